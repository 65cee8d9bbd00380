#!/usr/bin/env python3
"""Writes the Acme sample organisation: four services, one year (2025) of delivery data.

Run it from anywhere; it writes next to itself. It is deterministic (no randomness, no clock): the same
script always writes byte-identical files. Standard library only.

The story (EXPECTED.md works the metrics out by hand from the patterns below):

* storefront (monorepo acme/platform) gets better every quarter: it deploys more often (Fridays, then
  Tuesday+Thursday, then Monday/Wednesday/Friday, then every weekday), every change of a quarter has
  the same lead time (72 h, 48 h, 20 h, 4 h), and fewer deployments fail. Its deploy tool is in Berlin
  and writes local times with UTC offsets, across both daylight-saving changes. PRs are squash-merged.
* payments (monorepo acme/platform) releases once a week, on Thursdays, by hand: a staging deployment in
  the morning, then a production deployment after a manual approval that waits for hours. Nobody
  records what a release shipped, so flowgauge infers it (every change merged since the previous
  release): three changes ride each release, with lead times of 3, 8 and 10 days. Naive UTC times.
* ledger (repo acme/ledger) releases on Tuesdays and incidents cluster in the hours after a release;
  some incidents name the release that caused them, the rest are linked by the 24-hour window.
  Its pull requests and its weekly releases come from GitHub, as recorded pages of the GraphQL API
  (Argo CD reports its automated syncs to GitHub as deployments); the rollback and the hotfix the
  on-call synced by hand in Argo CD are not reported to GitHub and come from Argo CD's history.
* billing (repo acme/billing) is on GitLab and releases once a month, by hand: the release manager
  plays the manual deploy job of the release pipeline; each release ships one merge request. Its
  merge requests, pipelines, jobs, environment and deployments are recorded GitLab API pages.

Files written: deployments.csv (storefront + payments), ledger-deployments.json (ledger's by-hand
syncs), changes.csv and reviews.csv (storefront + payments), incidents.ndjson, pipelines.csv, jobs.csv
(payments' release pipelines), and github/acme/ledger/{pull_requests,deployments,incidents,environments,codeowners,codeowners_errors}/00000001.json:
the pages `flowgauge collect github` would have kept in a workspace's raw/github/ (flowgauge.toml reads
them with `recorded = "github"`). ledger's incidents are Jira Service Management incidents, written as
the pages `flowgauge collect jira` keeps in raw/jira/ (jira/acme.atlassian.net/{search,changelog}/,
read with `recorded = "jira"`); the other services' incidents are in incidents.ndjson. billing's
GitLab pages are under gitlab/acme/billing/ (laid out like a workspace's raw/gitlab/, read with
`recorded = "gitlab"`).
"""

import base64
import csv
import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
UTC = timezone.utc
MON, TUE, WED, THU, FRI = range(5)
WEEKDAYS = {MON, TUE, WED, THU, FRI}


def hours(h):
    return timedelta(hours=h)


def sha(label):
    """A stable, fake 40-hex commit id."""
    return hashlib.sha1(label.encode()).hexdigest()


def days(first, last, weekdays, skip=()):
    """Every date in [first, last] falling on one of `weekdays`, except `skip`."""
    d = first
    while d <= last:
        if d.weekday() in weekdays and d not in skip:
            yield d
        d += timedelta(days=1)


def at(d, hh, mm=0):
    """A UTC instant on date d."""
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=UTC)


def last_sunday(year, month):
    d = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return d - timedelta(days=(d.weekday() - 6) % 7)


def berlin_offset(t):
    """Hours east of UTC in Berlin at UTC instant t (EU rule: summer time from 01:00 UTC on the last
    Sunday of March to 01:00 UTC on the last Sunday of October)."""
    start = at(last_sunday(t.year, 3), 1)
    end = at(last_sunday(t.year, 10), 1)
    return 2 if start <= t < end else 1


def berlin_10am(d):
    """10:00 Berlin wall-clock time on date d, as a UTC instant (09:00Z in winter, 08:00Z in summer)."""
    guess = at(d, 9)
    return at(d, 10 - berlin_offset(guess))


# Three ways of writing the same instant, one per source system.
def local(t):
    """RFC 3339 with Berlin's offset, e.g. 2025-03-28T10:00:00+01:00 (storefront's deploy tool)."""
    return t.astimezone(timezone(hours(berlin_offset(t)))).isoformat()


def zulu(t):
    """RFC 3339 in UTC, e.g. 2025-03-28T09:00:00Z (GitHub, the incident tool, ledger's Argo CD)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def naive(t):
    """Naive UTC, e.g. 2025-03-28 09:00:00 (payments' Jenkins export)."""
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# What went wrong after a production deployment. `after` and `lasts` are hours.
def incident(after, lasts, explicit=False, title=None, severity="SEV3", mitigated=None):
    """`mitigated`: hours after opening when the impact ended, where the tracker records it (Jira)."""
    return {"kind": "incident", "after": after, "lasts": lasts, "explicit": explicit, "title": title,
            "severity": severity, "mitigated": mitigated}


def rollback(after):
    return {"kind": "rollback", "after": after}


def hotfix(after, lead):
    """A hotfix deployment `after` hours later, shipping one fix PR whose lead time is `lead` hours."""
    return {"kind": "hotfix", "after": after, "lead": lead}


def reverted(lead):
    """The deployment's change is reverted by a PR (lead time `lead` h) that rides the next release."""
    return {"kind": "reverted", "lead": lead}


# --------------------------------------------------------------------------------------------------
# People, titles

STOREFRONT_PEOPLE = ["lena.hoffmann", "jonas.weber", "mia.schulz", "felix.braun", "sofia.rossi"]
PAYMENTS_PEOPLE = ["priya.nair", "tomasz.kowalski", "amara.okafor", "daniel.silva"]
LEDGER_PEOPLE = ["erik.lindqvist", "yuki.tanaka", "olivia.grant"]
ONCALL = {"storefront": "felix.braun", "payments": "daniel.silva", "ledger": "olivia.grant"}

STOREFRONT_TITLES = [
    "Add wishlist button to product page",
    "Lazy-load product images below the fold",
    "Fix price rounding in mini cart",
    'Rename "Buy now" to "Checkout", again',
    "Cache category tree for 5 minutes",
    "Show delivery estimate on product page",
    "Upgrade design system to 4.2",
    "Track add-to-cart events",
    "Fix broken link in footer (#812)",
    "Paginate search results server-side",
    "Remove legacy promo banner",
    "Add structured data for reviews",
    "Improve empty-cart illustration",
    "Prefetch checkout assets",
]
PAYMENTS_TITLES = [
    "Retry card authorisation on gateway timeout",
    "Add iDEAL payment method",
    "Store 3-D Secure outcome on the order",
    "Reconcile refunds nightly",
    "Rotate PSP API keys via vault",
    "Reject zero-amount captures",
    "Log settlement batch ids",
    "Bump stripe-java to 26.1",
]
LEDGER_TITLES = [
    "Double-entry check on journal import",
    "Speed up trial balance query",
    "Add FX revaluation job",
    "Close period: lock late postings",
    "Index postings by account and date",
    "Export VAT report as CSV",
]
INCIDENT_TITLES = {
    "storefront": ["Checkout 5xx spike", "Product images not loading", "Search returns empty results"],
    "payments": ["Card payments declined", "Refunds stuck in pending"],
    "ledger": [
        "Trial balance does not balance",
        "Journal import job failing",
        "Posting latency > 30 s",
        "Duplicate postings after release",
        "Ledger API 500s",
    ],
}


class Org:
    """Collects rows for every file."""

    def __init__(self):
        self.deployments = []  # deployments.csv
        self.ledger_deployments = []  # ledger-deployments.json: Argo CD syncs started by hand
        self.github_deployments = []  # ledger's automated syncs, as GitHub deployments
        self.changes = []  # changes (numbers and ids assigned at the end)
        self.reviews = []
        self.incidents = []
        self.pipelines = []
        self.jobs = []

    def add_incident(self, service, opened, lasts, caused_by=None, title=None, severity="SEV3", mitigated=None):
        """Incident ids (INC-1001, …) are given in order of opening when the file is written."""
        titles = INCIDENT_TITLES[service]
        self.incidents.append({
            "id": None,
            "service": service,
            "title": title or titles[len(self.incidents) % len(titles)],
            "severity": severity,
            "opened_at": zulu(opened),
            "acknowledged_at": zulu(opened + timedelta(minutes=5)),
            "resolved_at": zulu(opened + hours(lasts)) if lasts is not None else None,
            "assignee": ONCALL[service],
            "caused_by_deployment_id": caused_by,
            "mitigated": opened + hours(mitigated) if mitigated is not None else None,
        })

    def add_change(self, key, service, repo, author, title, first_commit, created, reviewed, merged,
                   merge_sha, branch_shas=(), reviewer=None, is_revert=False, reverts=None, labels="",
                   closed=None):
        i = len(self.changes)
        self.changes.append({
            "key": key,
            "service": service,
            "repo": repo,
            "title": title,
            "author": author,
            "created_at": created,
            "first_commit_at": first_commit,
            "first_review_at": reviewed - hours(0.1) if self.commented(i) else reviewed,
            "approved_at": reviewed,
            "merged_at": merged,
            "closed_at": closed or merged,
            "base_branch": "main",
            "head_branch": f"revert-{reverts}" if is_revert else f"feature/{key}",
            "merge_commit_sha": merge_sha,
            "additions": 12 + (i * 37) % 380,
            "deletions": (i * 13) % 120,
            "files_changed": 1 + i % 9,
            "is_revert": is_revert,
            "reverts": reverts,
            "labels": labels,
            "commits": " ".join(branch_shas),
        })
        if reviewed and reviewer:
            if self.commented(i):
                # The author's own note comes first; it is not a response. The reviewer's comment is.
                self.reviews.append((f"{key}-r1", key, author, "commented", reviewed - hours(0.2)))
                self.reviews.append((f"{key}-r2", key, reviewer, "commented", reviewed - hours(0.1)))
            self.reviews.append((f"{key}-r3", key, reviewer, "approved", reviewed))

    @staticmethod
    def commented(i):
        """Every eighth change gets a round of comments before its approval."""
        return i % 8 == 0


def pick(items, n):
    return items[n % len(items)]


# --------------------------------------------------------------------------------------------------
# storefront: explicit commits, squash merges, local times with offsets

STOREFRONT_PLAN = [
    # first day, last day, weekdays it deploys on, lead time of every change that quarter (hours)
    (date(2025, 1, 3), date(2025, 3, 31), {FRI}, 72),
    (date(2025, 4, 1), date(2025, 6, 30), {TUE, THU}, 48),
    (date(2025, 7, 1), date(2025, 9, 30), {MON, WED, FRI}, 20),
    (date(2025, 10, 1), date(2025, 12, 23), WEEKDAYS, 4),  # code freeze from Christmas Eve
]

STOREFRONT_TROUBLE = {
    date(2025, 1, 17): [incident(after=4, lasts=2)],
    date(2025, 2, 7): [incident(after=0.5, lasts=0.75, severity="SEV2"), rollback(after=1)],
    date(2025, 3, 7): [hotfix(after=5, lead=3)],
    date(2025, 5, 6): [reverted(lead=24)],
    date(2025, 6, 12): [incident(after=2, lasts=2, explicit=True, severity="SEV2"), incident(after=3, lasts=3)],
    date(2025, 8, 13): [incident(after=2, lasts=1)],
    date(2025, 9, 10): [rollback(after=0.5)],
    date(2025, 11, 19): [hotfix(after=4, lead=2)],
}


def storefront_change(org, key, deployed, lead, title, n, is_revert=False, reverts=None):
    """A squash-merged PR whose lead time to `deployed` is exactly `lead` hours. Returns the squash sha."""
    first = deployed - hours(lead)
    author = pick(STOREFRONT_PEOPLE, n)
    branch = [sha(f"storefront-branch-{key}-{k}") for k in range(1 + n % 3)]
    squash = sha(f"storefront-squash-{key}")
    org.add_change(key, "storefront", "acme/platform", author, title,
                   first_commit=first, created=first + hours(lead / 4), reviewed=first + hours(lead / 2),
                   merged=first + hours(lead * 3 / 4), merge_sha=squash, branch_shas=branch,
                   reviewer=pick(STOREFRONT_PEOPLE, n + 1), is_revert=is_revert, reverts=reverts,
                   labels="storefront" if n % 3 else "storefront,frontend")
    return squash


def storefront_deployment(org, dep_id, finished, commits, head, rollback=False, hotfix=False, who="github-actions"):
    org.deployments.append({
        "id": dep_id, "service": "storefront", "environment": "production", "repo": "acme/platform",
        "sha": head, "started_at": local(finished - timedelta(minutes=15)), "finished_at": local(finished),
        "status": "success", "triggered_by": who, "is_manual": rollback or hotfix,
        "approval_wait_seconds": "", "is_rollback": rollback, "is_hotfix": hotfix, "commits": " ".join(commits),
    })


def build_storefront(org):
    n = 0
    pending_revert = None  # (lead, reverted change key) riding the next release
    head = None
    for first, last, weekdays, lead in STOREFRONT_PLAN:
        for d in days(first, last, weekdays):
            deployed = berlin_10am(d)
            key = f"sf-{d:%Y%m%d}"
            title = pick(STOREFRONT_TITLES, n)
            if d == date(2025, 8, 1):
                title = "<script>alert(1)</script> fix"  # hostile title, for escaping tests
            shipped = [storefront_change(org, key, deployed, lead, title, n)]
            if d == date(2025, 1, 3):
                # The first storefront deployment ever also ships the v2 scaffolding merged in November
                # 2024, long before its 7-day look-back: that change is excluded from lead time.
                stale = sha("storefront-squash-sf-scaffold")
                org.add_change("sf-scaffold", "storefront", "acme/platform", "lena.hoffmann",
                               "Scaffold storefront v2 service",
                               first_commit=at(date(2024, 11, 12), 9), created=at(date(2024, 11, 14), 9),
                               reviewed=at(date(2024, 11, 18), 13), merged=at(date(2024, 11, 20), 16),
                               merge_sha=stale, branch_shas=[sha("storefront-branch-sf-scaffold-0")],
                               reviewer="jonas.weber", labels="storefront")
                shipped.insert(0, stale)
            if pending_revert:
                revert_lead, original = pending_revert
                shipped.append(storefront_change(org, f"{key}-revert", deployed, revert_lead,
                                                 f'Revert "{pick(STOREFRONT_TITLES, n - 1)}"', n,
                                                 is_revert=True, reverts=original))
                pending_revert = None
            storefront_deployment(org, key, deployed, shipped, shipped[-1])
            previous_head, head = head, shipped[-1]
            n += 1
            for event in STOREFRONT_TROUBLE.get(d, []):
                if event["kind"] == "incident":
                    org.add_incident("storefront", deployed + hours(event["after"]), event["lasts"],
                                     caused_by=key if event["explicit"] else None, severity=event["severity"])
                elif event["kind"] == "rollback":
                    storefront_deployment(org, f"{key}-rollback", deployed + hours(event["after"]), [],
                                          previous_head, rollback=True, who="felix.braun")
                elif event["kind"] == "hotfix":
                    fixed = deployed + hours(event["after"])
                    fix = storefront_change(org, f"{key}-hotfix", fixed, event["lead"],
                                            f"Hotfix: {pick(STOREFRONT_TITLES, n - 1).lower()}", n)
                    storefront_deployment(org, f"{key}-hotfix", fixed, [fix], fix, hotfix=True, who="felix.braun")
                    head = fix
                elif event["kind"] == "reverted":
                    pending_revert = (event["lead"], key)

    # A PR merged during the code freeze: never deployed.
    org.add_change("sf-holiday-banner", "storefront", "acme/platform", "mia.schulz", "Update holiday banner copy",
                   first_commit=at(date(2025, 12, 29), 8), created=at(date(2025, 12, 29), 9),
                   reviewed=at(date(2025, 12, 29), 10), merged=at(date(2025, 12, 29), 11),
                   merge_sha=sha("storefront-squash-sf-holiday-banner"), reviewer="jonas.weber",
                   labels="storefront")
    # A PR closed without merging: not merged.
    org.add_change("sf-wip-checkout", "storefront", "acme/platform", "sofia.rossi",
                   "WIP: experiment with one-page checkout",
                   first_commit=at(date(2025, 10, 6), 8), created=at(date(2025, 10, 8), 9),
                   reviewed=at(date(2025, 10, 9), 10), merged=None, closed=at(date(2025, 10, 10), 12),
                   merge_sha=None, branch_shas=[sha("storefront-branch-sf-wip-0")], reviewer="lena.hoffmann",
                   labels="storefront,experiment")


# --------------------------------------------------------------------------------------------------
# payments: weekly manual releases, staging first, commits inferred, naive UTC times

PAYMENTS_RELEASES = list(days(date(2025, 1, 1), date(2025, 12, 31), {THU},
                              skip={date(2025, 1, 2), date(2025, 12, 25)}))  # holidays: no release
PAYMENTS_HISTORY = [date(2024, 12, 19)]  # the first release ever observed, before the window
APPROVAL_WAITS = [3, 4, 5, 6]  # hours a release waits for approval, in rotation
APPROVERS = ["amara.okafor", "priya.nair"]
PAYMENTS_FAILED_ATTEMPT = {date(2025, 2, 20)}  # the first production attempt that day failed

PAYMENTS_TROUBLE = {
    date(2025, 5, 15): [incident(after=18.5, lasts=4, severity="SEV2")],
    date(2025, 8, 14): [incident(after=1.5, lasts=18.5, severity="SEV1"), hotfix(after=19.5, lead=16)],
}

# Every release ships three changes. Each is (lead time in hours, created, reviewed, merged), the last
# three as offsets in hours from the first commit; all merge between the previous release's start
# (Thursday 14:00) and this one's.
PAYMENTS_BATCH = [
    (240, 19.5, 43.5, 92.5),  # first commit the Monday before last, merged last Friday 11:00
    (192, 18.5, 115, 116.5),  # first commit last Wednesday, merged Monday 11:00
    (72, 1.5, 19, 24.5),  # first commit Monday, merged Tuesday 15:00
]


def payments_deployment(org, dep_id, env, started, finished, status="success", wait=None, hotfix=False, who=None,
                        head=""):
    """No `commits`: Jenkins does not record them, so flowgauge infers what a production release shipped."""
    org.deployments.append({
        "id": dep_id, "service": "payments", "environment": env, "repo": "acme/platform",
        "sha": head, "started_at": naive(started), "finished_at": naive(finished), "status": status,
        "triggered_by": who or "jenkins", "is_manual": env == "production",
        "approval_wait_seconds": int(wait * 3600) if wait is not None else "",
        "is_rollback": False, "is_hotfix": hotfix, "commits": "",
    })


def payments_pipeline(org, pid, d, staged, approval_asked, approved, attempts, approver):
    """The Jenkins release pipeline: build, deploy to staging, wait for a person, deploy to production."""
    org.pipelines.append({
        "id": pid, "repo": "acme/platform", "service": "payments", "name": "payments-release",
        "ref": "main", "trigger": "schedule", "triggered_by": "jenkins",
        "queued_at": naive(staged - hours(0.75)), "started_at": naive(staged - hours(0.75)),
        "finished_at": naive(attempts[-1][1]), "status": "success", "attempt": 1,
    })
    steps = [
        ("build", "build", False, "jenkins", staged - hours(0.75), staged - hours(0.3), "success", 1),
        ("deploy-staging", "staging", False, "jenkins", staged - hours(0.25), staged, "success", 1),
        ("approve-production", "approval", True, approver, approval_asked, approved, "success", 1),
    ]
    for k, (start, end, status) in enumerate(attempts, 1):
        steps.append(("deploy-production", "production", False, approver, start, end, status, k))
    for name, stage, manual, who, start, end, status, attempt in steps:
        org.jobs.append({
            "id": f"{pid}-{name}-{attempt}", "pipeline_id": pid, "name": name, "stage": stage,
            "status": status, "is_manual": manual, "triggered_by": who,
            "queued_at": naive(start), "started_at": naive(start), "finished_at": naive(end), "attempt": attempt,
        })


def build_payments(org):
    n = 0
    for k, d in enumerate(PAYMENTS_HISTORY + PAYMENTS_RELEASES):
        finished = at(d, 14, 30)
        started = at(d, 14)
        wait = pick(APPROVAL_WAITS, k)
        approver = pick(APPROVERS, k)
        key = f"pay-{d:%Y%m%d}"
        for lead, created, reviewed, merged in PAYMENTS_BATCH:
            first = finished - hours(lead)
            org.add_change(f"{key}-{lead}h", "payments", "acme/platform", pick(PAYMENTS_PEOPLE, n),
                           pick(PAYMENTS_TITLES, n), first_commit=first, created=first + hours(created),
                           reviewed=first + hours(reviewed), merged=first + hours(merged),
                           merge_sha=sha(f"payments-merge-{key}-{lead}"),
                           branch_shas=[sha(f"payments-branch-{key}-{lead}-{j}") for j in range(2)],
                           reviewer=pick(PAYMENTS_PEOPLE, n + 2), labels="payments")
            n += 1
        head = sha(f"payments-merge-{key}-{PAYMENTS_BATCH[-1][0]}")  # the last change merged
        staged = at(d, 9, 20)
        payments_deployment(org, f"{key}-staging", "staging", at(d, 9), staged, head=head)
        attempts = [(started, finished, "success")]
        if d in PAYMENTS_FAILED_ATTEMPT:
            attempts.insert(0, (at(d, 13, 30), at(d, 13, 40), "failure"))
            payments_deployment(org, f"{key}-attempt1", "production", at(d, 13, 30), at(d, 13, 40),
                                status="failure", wait=wait - 0.5, who=approver, head=head)
        payments_deployment(org, key, "production", started, finished, wait=wait, who=approver, head=head)
        first_start = attempts[0][0]
        payments_pipeline(org, f"{key}-release", d, staged, first_start - hours(wait), first_start, attempts, approver)

        for event in PAYMENTS_TROUBLE.get(d, []):
            if event["kind"] == "incident":
                org.add_incident("payments", finished + hours(event["after"]), event["lasts"],
                                 severity=event["severity"])
            elif event["kind"] == "hotfix":
                fixed = finished + hours(event["after"])
                first = fixed - hours(event["lead"])
                hkey = f"pay-{fixed:%Y%m%d}-hotfix"
                org.add_change(hkey, "payments", "acme/platform", "tomasz.kowalski",
                               "Hotfix: fall back to primary PSP when 3DS times out",
                               first_commit=first, created=first + hours(0.5), reviewed=first + hours(11.5),
                               merged=first + hours(12), merge_sha=sha(f"payments-merge-{hkey}"),
                               reviewer="priya.nair", labels="payments,hotfix")
                payments_deployment(org, f"{hkey}-staging", "staging", fixed - hours(0.75), fixed - hours(0.5),
                                    head=sha(f"payments-merge-{hkey}"))
                payments_deployment(org, hkey, "production", fixed - hours(0.25), fixed, wait=0.25,
                                    hotfix=True, who="priya.nair", head=sha(f"payments-merge-{hkey}"))


# --------------------------------------------------------------------------------------------------
# ledger: weekly Tuesday releases, incidents after them, rebase merges, commits recorded

LEDGER_HISTORY = [date(2024, 12, 10), date(2024, 12, 17)]
LEDGER_RELEASES = list(days(date(2025, 1, 1), date(2025, 12, 31), {TUE},
                            skip={date(2025, 12, 23), date(2025, 12, 30)}))  # year-end freeze
LEDGER_LEAD = 30  # every ledger change: first commit Monday 09:00, live Tuesday 15:00

LEDGER_TROUBLE = {
    date(2025, 1, 7): [incident(after=2, lasts=3)],
    date(2025, 1, 21): [incident(after=1, lasts=2, explicit=True, severity="SEV2"), incident(after=3, lasts=4)],
    date(2025, 2, 4): [incident(after=30, lasts=2, explicit=True)],  # beyond the 24 h window: explicit only
    date(2025, 2, 18): [incident(after=4, lasts=4)],
    date(2025, 3, 11): [incident(after=2, lasts=2)],
    date(2025, 4, 8): [incident(after=1, lasts=3)],
    date(2025, 4, 22): [incident(after=0.5, lasts=2, severity="SEV1"), rollback(after=2)],
    date(2025, 5, 13): [incident(after=3, lasts=5)],
    date(2025, 6, 3): [incident(after=2, lasts=2)],
    date(2025, 6, 17): [incident(after=6, lasts=6)],
    # Mitigated 2 h in (traffic moved off the broken import path), resolved with the hotfix.
    date(2025, 7, 8): [incident(after=1, lasts=19, severity="SEV2", mitigated=2), hotfix(after=19, lead=14)],
    date(2025, 7, 29): [incident(after=2, lasts=1, explicit=True), incident(after=2.5, lasts=1.5)],
    date(2025, 8, 19): [incident(after=5, lasts=3)],
    date(2025, 9, 9): [incident(after=3, lasts=3)],
    date(2025, 9, 23): [incident(after=1, lasts=2)],
    date(2025, 10, 14): [incident(after=2, lasts=4)],
    date(2025, 11, 4): [incident(after=1, lasts=1), incident(after=20, lasts=2)],
    date(2025, 11, 25): [incident(after=3, lasts=3)],
    date(2025, 12, 16): [incident(after=18, lasts=None, title="Rounding drift in FX revaluation")],  # still open
}
LEDGER_HISTORY_TROUBLE = {date(2024, 12, 17): [incident(after=5, lasts=2)]}  # opened before the window
# An incident no deployment explains: a Saturday night, days after the last release.
LEDGER_STRAY_INCIDENT = (at(date(2025, 3, 1), 3), 1)


def ledger_change(org, key, first, created, reviewed, merged, title, n, labels="ledger"):
    """A rebase-merged PR: GitHub lists its branch commits (authored 30 minutes apart, the first at
    `first`); rebasing writes them onto main as new commits, the last of which is GitHub's
    `mergeCommit`. Returns the rebased commits, which is what a deployment ships."""
    branch = [sha(f"ledger-branch-{key}-{j}") for j in range(2)]
    rebased = [sha(f"ledger-{key}-{j}") for j in range(2)]
    org.add_change(key, "ledger", "acme/ledger", pick(LEDGER_PEOPLE, n), title, first_commit=first,
                   created=created, reviewed=reviewed, merged=merged, merge_sha=rebased[-1],
                   branch_shas=branch, reviewer=pick(LEDGER_PEOPLE, n + 1), labels=labels)
    org.changes[-1]["authored"] = [first + hours(j / 2) for j in range(len(branch))]
    return rebased


def ledger_deployment(org, dep_id, finished, commits, rollback_to=None, hotfix=False, who="argocd"):
    """Argo CD's automated syncs reach GitHub as deployments (environment `prod`, created when the
    sync starts, SUCCESS when it finishes). Syncs started by hand — the rollback and the hotfix — are
    not reported to GitHub: they come from Argo CD's history, flagged."""
    rollback = rollback_to is not None
    if not (rollback or hotfix):
        org.github_deployments.append({"key": dep_id, "created": finished - timedelta(minutes=30),
                                       "finished": finished, "sha": commits[-1], "creator": who})
        return
    org.ledger_deployments.append({
        "id": dep_id, "service": "ledger", "environment": "prod", "repo": "acme/ledger",
        "sha": rollback_to if rollback else commits[-1],
        "started_at": zulu(finished - timedelta(minutes=30)), "finished_at": zulu(finished),
        "status": "success", "triggered_by": who, "is_manual": rollback or hotfix,
        "is_rollback": rollback, "is_hotfix": hotfix, "commits": " ".join(commits),
    })


def build_ledger(org):
    head = None
    for n, d in enumerate(LEDGER_HISTORY + LEDGER_RELEASES):
        deployed = at(d, 15)
        key = f"ldg-{d:%Y%m%d}"
        first = deployed - hours(LEDGER_LEAD)
        commits = ledger_change(org, key, first, first + hours(2), first + hours(6), first + hours(25),
                                pick(LEDGER_TITLES, n), n)
        ledger_deployment(org, key, deployed, commits)
        previous_head, head = head, commits[-1]
        trouble = {**LEDGER_HISTORY_TROUBLE, **LEDGER_TROUBLE}.get(d, [])
        for event in trouble:
            if event["kind"] == "incident":
                org.add_incident("ledger", deployed + hours(event["after"]), event["lasts"],
                                 caused_by=key if event["explicit"] else None, title=event["title"],
                                 severity=event["severity"], mitigated=event.get("mitigated"))
            elif event["kind"] == "rollback":
                ledger_deployment(org, f"{key}-rollback", deployed + hours(event["after"]), [],
                                  rollback_to=previous_head, who="erik.lindqvist")
            elif event["kind"] == "hotfix":
                fixed = deployed + hours(event["after"])
                hkey = f"ldg-{fixed:%Y%m%d}-hotfix"
                first = fixed - hours(event["lead"])
                fix = ledger_change(org, hkey, first, first + hours(1), first + hours(10), first + hours(11),
                                    "Hotfix: stop double-posting on retried imports", n, labels="ledger,hotfix")
                ledger_deployment(org, hkey, fixed, fix, hotfix=True, who="yuki.tanaka")
                head = fix[-1]
    opened, lasts = LEDGER_STRAY_INCIDENT
    org.add_incident("ledger", opened, lasts, title="Nightly statement batch timed out")


# --------------------------------------------------------------------------------------------------
# Writing

def numbered(org):
    """Assigns PR numbers per repository in order of opening, and ids from them."""
    next_number = {"acme/platform": 1201, "acme/ledger": 301}
    ids = {}
    for c in sorted(org.changes, key=lambda c: (c["created_at"], c["key"])):
        c["number"] = next_number[c["repo"]]
        next_number[c["repo"]] += 1
        ids[c["key"]] = f"{c['repo'].split('/')[1]}-{c['number']}"
    return ids


# --------------------------------------------------------------------------------------------------
# ledger on GitHub: the pages `flowgauge collect github --repo acme/ledger` keeps in raw/github/, in
# the shapes of the GraphQL queries in src/collect/github/mod.rs (plus `body` on pull requests and
# issues and `logUrl` on deployment statuses, which extraction does not read).

GITHUB_REPO = "acme/ledger"
RECORDED = HERE / "github"
RECORDED_AT_RESET = "2026-01-05T10:00:00Z"  # rateLimit.resetAt: recorded on 2026-01-05
PAGE_SIZE = 100
ARGOCD_LOG = "https://argocd.acme.example/applications/ledger-prod?operation=true"

# Descriptions of ledger's pull requests. Free of references to other pull requests, commits or
# deployments ("#12", hex strings), so that nothing in them links records.
LEDGER_BODIES = {
    "Double-entry check on journal import":
        "Rejects a journal import whose debits and credits do not balance, and names the first entry "
        "that does not.",
    "Speed up trial balance query":
        "Sums postings per account in the database instead of in the service.\n\nSame results on last "
        "quarter's data, in a fraction of the time.",
    "Add FX revaluation job":
        "Revalues foreign-currency balances at month end with the closing rates and posts the "
        "differences to the revaluation account.",
    "Close period: lock late postings":
        "Once a period is closed, postings dated inside it are refused with a clear error instead of "
        "being accepted silently.",
    "Index postings by account and date": "",
    "Export VAT report as CSV":
        "Finance asked for the VAT report as a spreadsheet: adds a CSV export next to the PDF.",
    "Hotfix: stop double-posting on retried imports":
        "A retried import posted its entries twice. Imports now remember which entries they have "
        "posted and skip them when retried.",
}
REFERENCE = re.compile(r"#\d|[0-9a-f]{7,}", re.IGNORECASE)


def cursor(*key):
    """An opaque GraphQL cursor, written the way GitHub's look (base64 of a versioned sort key)."""
    return base64.b64encode(("cursor:v2:" + json.dumps(list(key), separators=(",", ":"))).encode()).decode()


def graphql_pages(connection, items, remaining):
    """`items` (node, cursor) in the connection's order, as pages of PAGE_SIZE answering the query:
    `{"data": {"rateLimit": …, "repository": {connection: {"pageInfo": …, "nodes": […]}}}}`."""
    chunks = [items[k:k + PAGE_SIZE] for k in range(0, len(items), PAGE_SIZE)] or [[]]
    pages = []
    for k, chunk in enumerate(chunks):
        pages.append({"data": {
            "rateLimit": {"cost": 1, "remaining": remaining - len(pages), "resetAt": RECORDED_AT_RESET},
            "repository": {connection: {
                "pageInfo": {"hasNextPage": k + 1 < len(chunks), "endCursor": chunk[-1][1] if chunk else None},
                "nodes": [node for node, _ in chunk],
            }},
        }})
    return pages


def user(login):
    return {"__typename": "User", "login": login}


def pull_request_node(c, reviews):
    """One pull request as the pull-request query asks for it. The author's own note and the
    reviewer's comment are conversation comments; the approval is a review."""
    body = LEDGER_BODIES[c["title"]]
    assert not REFERENCE.search(body), body
    number = c["number"]
    state = "MERGED" if c["merged_at"] else "CLOSED" if c["closed_at"] else "OPEN"
    comments = [r for r in reviews if r[3] == "commented"]
    submitted = [r for r in reviews if r[3] != "commented"]
    labels = [name for name in c["labels"].split(",") if name]
    commits = list(zip(c["commits"].split(), c["authored"]))
    return {
        "number": number,
        "title": c["title"],
        "body": body,
        "state": state,
        "createdAt": zulu(c["created_at"]),
        "updatedAt": zulu(c["closed_at"] or c["created_at"]),
        "mergedAt": zulu(c["merged_at"]),
        "closedAt": zulu(c["closed_at"]),
        "author": user(c["author"]),
        "baseRefName": c["base_branch"],
        "headRefName": c["head_branch"],
        "mergeCommit": {"oid": c["merge_commit_sha"]} if c["merge_commit_sha"] else None,
        "additions": c["additions"],
        "deletions": c["deletions"],
        "changedFiles": c["files_changed"],
        "labels": {"nodes": [{"name": name} for name in labels]},
        "commits": {"totalCount": len(commits),
                    "nodes": [{"commit": {"oid": oid, "authoredDate": zulu(t)}} for oid, t in commits]},
        "reviews": {"totalCount": len(submitted), "nodes": [
            {"databaseId": 2_400_000_000 + number * 10 + k, "author": user(who), "state": verdict.upper(),
             "submittedAt": zulu(t)}
            for k, (_, _, who, verdict, t) in enumerate(submitted)]},
        "comments": {"nodes": [
            {"databaseId": 2_600_000_000 + number * 10 + k, "author": user(who), "createdAt": zulu(t)}
            for k, (_, _, who, _, t) in enumerate(comments)]},
    }


def github_deployment_id(d):
    """GitHub's databaseId of an automated sync: its date, so that EXPECTED.md can name it."""
    return int(f"{d['finished']:%Y%m%d}")


def deployment_node(d):
    """One deployment as the deployment query asks for it; statuses newest first."""
    return {
        "databaseId": github_deployment_id(d),
        "environment": "prod",
        "createdAt": zulu(d["created"]),
        "commitOid": d["sha"],
        "creator": {"login": d["creator"]},
        "statuses": {"nodes": [
            {"state": "SUCCESS", "createdAt": zulu(d["finished"]), "logUrl": ARGOCD_LOG},
            {"state": "IN_PROGRESS", "createdAt": zulu(d["created"]), "logUrl": None},
        ]},
    }


def write_recorded(org, reviews_by_key):
    """Writes ledger's GitHub pages; returns {resource: nodes written}."""
    pulls = sorted((c for c in org.changes if c["repo"] == GITHUB_REPO),
                   key=lambda c: (c["closed_at"] or c["created_at"], c["number"]), reverse=True)
    pull_items = [(pull_request_node(c, reviews_by_key.get(c["key"], [])),
                   cursor(zulu(c["closed_at"] or c["created_at"]), c["number"])) for c in pulls]
    deployments = sorted(org.github_deployments, key=lambda d: d["created"], reverse=True)
    deployment_items = [(deployment_node(d), cursor(zulu(d["created"]), github_deployment_id(d)))
                        for d in deployments]
    # Ledger's incidents are in the incident tool (it names the releases that caused them, which an
    # issue cannot), so GitHub answers the incident-label query with no issues.
    resources = {
        "pull_requests": graphql_pages("pullRequests", pull_items, 4999),
        "deployments": graphql_pages("deployments", deployment_items, 4998),
        "incidents": graphql_pages("issues", [], 4997),
    }
    owner, name = GITHUB_REPO.split("/")
    written = {}
    for resource, pages in resources.items():
        directory = RECORDED / owner / name / resource
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.json"):
            old.unlink()
        for k, page in enumerate(pages, 1):
            with open(directory / f"{k:08}.json", "w", encoding="utf-8") as f:
                f.write(json.dumps(page, indent=2, ensure_ascii=False) + "\n")
        written[resource] = sum(len(p["data"]["repository"][next(iter(p["data"]["repository"]))]["nodes"])
                                for p in pages)
    # Settings, as snapshots: the prod environment (Argo CD deploys on merge, so no reviewers; only
    # main may deploy), and CODEOWNERS naming a team, the DBAs for migrations, and someone who left —
    # which GitHub reports as an error (an ownership gap in the report).
    settings = {
        "environments": {"total_count": 1, "environments": [
            {"id": 5101, "name": "prod", "protection_rules": [{"id": 5102, "type": "branch_policy"}],
             "deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": False}}]},
        "codeowners": {"data": {
            "rateLimit": {"cost": 1, "remaining": 4996, "resetAt": RECORDED_AT_RESET},
            "repository": {"dotgithub": {"text": LEDGER_CODEOWNERS}, "root": None, "docs": None}}},
        "codeowners_errors": {"errors": [
            {"line": 4, "column": 15, "kind": "Unknown owner", "source": "/legacy/      @mvoss",
             "suggestion": "make sure @mvoss exists and has write access to the repository",
             "message": "Unknown owner on line 4: make sure @mvoss exists and has write access to the repository\n\n  /legacy/      @mvoss\n                ^",
             "path": ".github/CODEOWNERS"}]},
    }
    for resource, page in settings.items():
        directory = RECORDED / owner / name / resource
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.json"):
            old.unlink()
        with open(directory / "00000001.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(page, indent=2, ensure_ascii=False) + "\n")
        written[resource] = 1
    return written


# ledger's CODEOWNERS at the time of recording.
LEDGER_CODEOWNERS = """# ledger owners
*             @acme/ledger-team
/migrations/  @acme/dba
/legacy/      @mvoss
"""


# storefront's incidents are in PagerDuty: recorded REST API v2 pages under pagerduty/, read with
# `recorded = "pagerduty"` (docs/pagerduty.md). Two PagerDuty services, both storefront's; Datadog opens
# the incidents (a customer-support agent opened the images one by hand) and felix.braun acknowledges
# (5 minutes in) and resolves them. The release manager sent one change event, for the Jun 12 search
# deploy; PagerDuty relates it to the search incident (same service), not to the checkout one.
PAGERDUTY = HERE / "pagerduty"
PAGERDUTY_SERVICE = "storefront"
PD_CATALOG = {"id": "PSFCTLG", "type": "service_reference", "summary": "Storefront catalog"}
PD_CHECKOUT = {"id": "PSFCHKT", "type": "service_reference", "summary": "Storefront checkout"}
PD_DATADOG = {"id": "PDDOG01", "type": "events_api_v2_inbound_integration_reference", "summary": "Datadog"}
PD_FELIX = {"id": "PFELIX1", "type": "user_reference", "summary": "felix.braun"}
PD_SUPPORT = {"id": "PSUPP01", "type": "user_reference", "summary": "support.desk"}
PD_CHANGE_DEPLOY = "sf-20250612"


def pagerduty_list(field, items):
    return {field: items, "limit": 100, "offset": 0, "more": False, "total": len(items)}


def write_pagerduty(incidents, deployments):
    """Writes storefront's PagerDuty pages; returns {resource: items written}."""
    incident_nodes, entries, related = [], [], {}
    deploy = next(d for d in deployments if d["id"] == PD_CHANGE_DEPLOY)
    change = {
        "id": "Q3CHG20250612", "type": "change_event", "summary": "Deploy search index v2 (sf-20250612)",
        "timestamp": zulu(datetime.fromisoformat(deploy["finished_at"])), "source": "release-manager",
        "services": [PD_CATALOG], "integration": None, "custom_details": {"sha": deploy["sha"]},
        "links": [{"href": f"https://github.com/acme/platform/commit/{deploy['sha']}", "text": "commit"}],
    }
    for i in incidents:
        number = int(i["id"].split("-")[1])
        pd_id = f"Q2SF{number}"
        service = PD_CHECKOUT if "Checkout" in i["title"] else PD_CATALOG
        opened = datetime.fromisoformat(i["opened_at"].replace("Z", "+00:00"))
        resolved = datetime.fromisoformat(i["resolved_at"].replace("Z", "+00:00"))
        sev2 = i["severity"] == "SEV2"
        incident_nodes.append({
            "id": pd_id, "type": "incident", "summary": f"[#{number}] {i['title']}", "incident_number": number,
            "title": i["title"], "created_at": i["opened_at"], "updated_at": i["resolved_at"], "status": "resolved",
            "incident_key": None, "service": service, "assignments": [], "acknowledgements": [],
            "last_status_change_at": i["resolved_at"], "resolved_at": i["resolved_at"],
            "urgency": "high" if sev2 else "low",
            "priority": {"id": "PPRIO2" if sev2 else "PPRIO3", "type": "priority", "summary": "P2" if sev2 else "P3"},
            "teams": [{"id": "PTEAMSF", "type": "team_reference", "summary": "Storefront"}],
            "html_url": f"https://acme.pagerduty.com/incidents/{pd_id}",
        })
        ref = {"id": pd_id, "type": "incident_reference", "summary": f"[#{number}] {i['title']}"}
        opener = PD_SUPPORT if i["title"] == "Product images not loading" and opened.month == 2 else PD_DATADOG
        entries += [
            {"id": f"R{pd_id}T", "type": "trigger_log_entry", "created_at": i["opened_at"], "agent": opener,
             "channel": {"type": "api" if opener is PD_DATADOG else "web_trigger"}, "incident": ref},
            {"id": f"R{pd_id}A", "type": "acknowledge_log_entry", "created_at": zulu(opened + timedelta(minutes=5)),
             "agent": PD_FELIX, "channel": {"type": "web_ui"}, "incident": ref},
            {"id": f"R{pd_id}R", "type": "resolve_log_entry", "created_at": zulu(resolved), "agent": PD_FELIX,
             "channel": {"type": "web_ui"}, "incident": ref},
        ]
        # Asked for every incident opened within 24 hours after the change event.
        since_change = (opened - datetime.fromisoformat(change["timestamp"].replace("Z", "+00:00"))).total_seconds()
        if 0 <= since_change <= 24 * 3600:
            same = service is PD_CATALOG
            related[pd_id] = [dict(change, correlation_reason={"reason": "related_service"})] if same else []
    entries.sort(key=lambda e: (e["created_at"], e["id"]))
    pages = {
        "incidents": pagerduty_list("incidents", incident_nodes),
        "change_events": pagerduty_list("change_events", [change]),
        "log_entries": pagerduty_list("log_entries", entries),
    }
    written = {}
    for resource, page in pages.items():
        directory = PAGERDUTY / resource
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.json"):
            old.unlink()
        with open(directory / "00000001.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(page, indent=2, ensure_ascii=False) + "\n")
        written[resource] = len(next(iter(v for k, v in page.items() if isinstance(v, list))))
    directory = PAGERDUTY / "related_change_events"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.json"):
        old.unlink()
    for pd_id, events in related.items():
        with open(directory / f"{pd_id}.json", "w", encoding="utf-8") as f:
            f.write(json.dumps({"change_events": events}, indent=2, ensure_ascii=False) + "\n")
    written["related_change_events"] = len(related)
    return written


def cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return zulu(v)
    return v


# --------------------------------------------------------------------------------------------------
# ledger's incidents in Jira Service Management: the pages `flowgauge collect jira` keeps in raw/jira/,
# in the shapes of Jira Cloud's REST API v3 (POST /rest/api/3/search/jql, one page; POST
# /rest/api/3/changelog/bulkfetch for their status histories, one page).

JIRA_SITE = "acme.atlassian.net"
JIRA_RECORDED = HERE / "jira" / JIRA_SITE
DATADOG = {"accountId": "557058:datadog", "displayName": "Datadog", "accountType": "app", "active": True}
OLIVIA = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "olivia.grant", "accountType": "atlassian",
          "active": True}


def jira_time(t):
    """Jira's own format: milliseconds and an offset without a colon."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def parse_zulu(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def jira_issue(n, i):
    """Incident LDG-n. An explicit cause is the GitHub deployment's API URL in the description; the
    SEV1 of Apr 22 links its post-incident review."""
    opened = parse_zulu(i["opened_at"])
    resolved = parse_zulu(i["resolved_at"]) if i["resolved_at"] else None
    status = "Resolved" if resolved else ("Mitigated" if i["mitigated"] else "In Progress")
    paragraph = [{"type": "text", "text": "Opened by the " + ("on-call" if n % 5 == 0 else "Datadog monitor") + "."}]
    if i["caused_by_deployment_id"]:
        number = i["caused_by_deployment_id"].rsplit(":", 1)[1]
        paragraph += [{"type": "text", "text": " Started with release "},
                      {"type": "inlineCard", "attrs": {"url": f"https://api.github.com/repos/{GITHUB_REPO}/deployments/{number}"}}]
    links = []
    if i["severity"] == "SEV1":
        links.append({"id": "20001", "type": {"id": "10003", "name": "Relates", "inward": "relates to",
                                              "outward": "relates to"},
                      "outwardIssue": {"id": "10500", "key": "LDG-900",
                                       "fields": {"summary": "Trial balance outage: what we learned",
                                                  "status": {"name": "Done"},
                                                  "issuetype": {"name": "Post-incident review"}}}})
    updated = resolved or (parse_zulu(i["opened_at"]) + timedelta(minutes=5))
    return {
        "id": str(10100 + n),
        "key": f"LDG-{n}",
        "self": f"https://{JIRA_SITE}/rest/api/3/issue/{10100 + n}",
        "fields": {
            "summary": i["title"],
            "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": paragraph}]},
            "issuetype": {"id": "10010", "name": "[System] Incident"},
            "created": jira_time(opened),
            "updated": jira_time(updated),
            "resolutiondate": jira_time(resolved) if resolved else None,
            "status": {"name": status, "statusCategory": {"key": "done" if resolved else "indeterminate"}},
            "priority": {"name": {"SEV1": "Highest", "SEV2": "High"}.get(i["severity"], "Medium")},
            "assignee": OLIVIA,
            "reporter": OLIVIA if n % 5 == 0 else DATADOG,
            "components": [{"id": "10200", "name": "Ledger core"}],
            "labels": [],
            "issuelinks": links,
            "customfield_10040": {"id": "10300", "value": i["severity"]},
        },
    }


def jira_histories(n, i):
    """In progress 5 minutes in, mitigated where recorded, resolved (with resolution Done) at the end."""
    opened = parse_zulu(i["opened_at"])
    moves = [(opened + timedelta(minutes=5), "Open", "In Progress")]
    if i["mitigated"]:
        moves.append((i["mitigated"], "In Progress", "Mitigated"))
    if i["resolved_at"]:
        moves.append((parse_zulu(i["resolved_at"]), moves[-1][2], "Resolved"))
    out = []
    for k, (t, frm, to) in enumerate(moves, 1):
        items = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": None, "fromString": frm,
                  "to": None, "toString": to}]
        if to == "Resolved":
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": None,
                          "fromString": None, "to": "10000", "toString": "Done"})
        out.append({"id": str(50000 + n * 10 + k), "author": OLIVIA, "created": jira_time(t), "items": items})
    return out


def write_jira(incidents):
    issues = [jira_issue(n, i) for n, i in enumerate(incidents, 1)]
    logs = [{"issueId": str(10100 + n), "changeHistories": jira_histories(n, i)} for n, i in enumerate(incidents, 1)]
    for kind, page in [("changelog", {"issueChangeLogs": logs}), ("search", {"issues": issues, "isLast": True})]:
        (JIRA_RECORDED / kind).mkdir(parents=True, exist_ok=True)
        with open(JIRA_RECORDED / kind / "00000001.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(page, indent=2, ensure_ascii=False) + "\n")


# billing (repo acme/billing) is on GitLab: recorded pages under gitlab/acme/billing/, laid out like a
# workspace's raw/gitlab/ (docs/gitlab.md, read with `recorded = "gitlab"`). A monthly release: on the
# second Wednesday of every month the release manager (maria.lopez) plays the manual `deploy` job of
# the release pipeline, which deploys to the production-tier environment `production` (14:50–15:00).
# Each release ships one merge request (GitLab's deployments/:id/merge_requests lists it), merged
# 6 h before the release. The first release ever is Dec 11 2024 (before the window); June's first
# attempt (14:00–14:05) fails and the retry at 14:50 is the release. One merge request is still open.
GITLAB = HERE / "gitlab"
GITLAB_PROJECT = "acme/billing"
GITLAB_RELEASE_MANAGER = "maria.lopez"
GITLAB_AUTHORS = ["tom.becker", "ana.silva"]
# Hours from each 2025 release's merge request's first commit to the release's finish (Jan … Dec).
BILLING_LEADS = [30, 54, 26, 78, 30, 50, 28, 46, 22, 20, 44, 24]


def second_wednesday(year, month):
    d = date(year, month, 1)
    while d.weekday() != WED:
        d += timedelta(days=1)
    return d + timedelta(days=7)


def billing_releases():
    """[(release date, lead hours)]: Dec 2024 (the first observed release, lead 30 h), then 2025."""
    return [(second_wednesday(2024, 12), 30)] + [(second_wednesday(2025, m), lead)
                                                   for m, lead in enumerate(BILLING_LEADS, 1)]


def gitlab_user(name):
    return {"username": name}


def gitlab_connection(nodes):
    return {"count": len(nodes), "pageInfo": {"hasNextPage": False, "endCursor": str(len(nodes))}, "nodes": nodes}


def billing_merge_request(iid, first, merged, author):
    """A merge request node of the GraphQL page: two commits, a review comment and an approval."""
    created = first + hours(1)
    reviewer = GITLAB_AUTHORS[iid % 2]
    commits = [{"sha": sha(f"billing-{iid}-{c}"), "authorName": author, "authoredDate": zulu(first + hours(c)),
                "committedDate": zulu(first + hours(c))} for c in range(2)]
    notes = [] if merged is None else [
        {"id": f"gid://gitlab/Note/{iid * 100 + 1}", "body": "looks right to me", "system": False,
         "createdAt": zulu(created + hours(2)), "author": gitlab_user(reviewer)},
        {"id": f"gid://gitlab/Note/{iid * 100 + 2}", "body": "approved this merge request", "system": True,
         "createdAt": zulu(created + hours(3)), "author": gitlab_user(reviewer)},
    ]
    return {
        "iid": str(iid), "title": f"Invoice run {iid}", "description": "",
        "state": "merged" if merged else "opened", "draft": False,
        "createdAt": zulu(created), "updatedAt": zulu(merged or created),
        "mergedAt": zulu(merged), "closedAt": None,
        "sourceBranch": f"feature/invoice-{iid}", "targetBranch": "main",
        "mergeCommitSha": sha(f"billing-{iid}-merge") if merged else None, "squashCommitSha": None,
        "author": gitlab_user(author), "labels": {"nodes": [{"title": "billing"}]},
        "diffStatsSummary": {"additions": 40 + iid, "deletions": 10, "fileCount": 3},
        "approvedBy": {"nodes": [gitlab_user(reviewer)] if merged else []},
        "commits": gitlab_connection(commits), "notes": gitlab_connection(notes),
    }


def billing_pipeline(pid, head, created, merger, deploy_status):
    """A release pipeline (pushed by the merger) and its jobs: build, test, and the manual deploy job
    played by the release manager (GitLab sets a played job's user to who pressed play)."""
    pipeline_status = "success" if deploy_status == "success" else "failed"
    pipeline = {"id": pid, "iid": pid - 500, "project_id": 42, "sha": head, "ref": "main", "status": pipeline_status,
                "source": "push", "created_at": zulu(created), "updated_at": zulu(created + hours(3)),
                "web_url": f"https://gitlab.com/{GITLAB_PROJECT}/-/pipelines/{pid}"}

    def job(jid, name, stage, status, who, start, minutes):
        return {"id": jid, "name": name, "stage": stage, "status": status, "ref": "main",
                "created_at": zulu(created), "started_at": zulu(start),
                "finished_at": zulu(start + timedelta(minutes=minutes)), "queued_duration": 3.0,
                "allow_failure": False, "user": gitlab_user(who),
                "pipeline": {"id": pid, "project_id": 42, "ref": "main", "sha": head, "status": pipeline_status}}
    return pipeline, [
        job(pid * 10 + 1, "build", "build", "success", merger, created + timedelta(minutes=1), 6),
        job(pid * 10 + 2, "test", "test", "success", merger, created + timedelta(minutes=8), 12),
    ], lambda start, minutes: job(pid * 10 + 3, "deploy", "deploy", deploy_status, GITLAB_RELEASE_MANAGER,
                                  start, minutes)


def billing_deployment(did, head, deploy_job, status):
    return {"id": did, "iid": did, "ref": "main", "sha": head, "status": status,
            "created_at": deploy_job["started_at"], "updated_at": deploy_job["finished_at"],
            "user": gitlab_user(GITLAB_RELEASE_MANAGER),
            "environment": {"id": 1, "name": "production", "tier": "production"},
            "deployable": {k: deploy_job[k] for k in ("id", "name", "stage", "status", "allow_failure", "created_at",
                                                      "started_at", "finished_at", "user")}
            | {"pipeline": {"id": deploy_job["pipeline"]["id"], "sha": head}}}


def write_gitlab():
    """Writes billing's GitLab pages; returns {resource: records written}."""
    merge_requests, pipelines, jobs, deployments, shipped = [], [], {}, [], {}
    for iid, (day, lead) in enumerate(billing_releases(), 1):
        finished = at(day, 15)
        first = finished - hours(lead)
        merged = finished - hours(6)
        author = GITLAB_AUTHORS[(iid + 1) % 2]
        merge_requests.append(billing_merge_request(iid, first, merged, author))
        head = sha(f"billing-{iid}-merge")
        pid = 500 + iid
        pipeline, pipeline_jobs, deploy = billing_pipeline(pid, head, merged, author, "success")
        if day == date(2025, 6, 11):
            # The first attempt fails; the release manager retries the job (a new job) at 14:50.
            failed = deploy(at(day, 14), 5) | {"status": "failed"}
            pipeline_jobs.append(failed)
            deployments.append(billing_deployment(len(deployments) + 1, head, failed, "failed"))
            retry = deploy(at(day, 14, 50), 10) | {"id": pid * 10 + 4}
        else:
            retry = deploy(at(day, 14, 50), 10)
        pipeline_jobs.append(retry)
        pipeline["updated_at"] = retry["finished_at"]
        pipelines.append(pipeline)
        jobs[pid] = pipeline_jobs
        deployment = billing_deployment(len(deployments) + 1, head, retry, "success")
        deployments.append(deployment)
        shipped[deployment["id"]] = [{"iid": iid, "merge_commit_sha": head, "squash_commit_sha": None,
                                      "sha": sha(f"billing-{iid}-1")}]
    opened = second_wednesday(2025, 11) + timedelta(days=14)
    merge_requests.append(billing_merge_request(len(merge_requests) + 1, at(opened, 9), None, GITLAB_AUTHORS[0]))
    merge_requests.sort(key=lambda m: (m["updatedAt"], int(m["iid"])))

    pages = {
        "environments/00000001.json": [{"id": 1, "name": "production", "tier": "production", "state": "available"}],
        "protected_environments/00000001.json": [],
        "merge_requests/00000001.json": {"data": {
            "queryComplexity": {"score": 98, "limit": 250},
            "project": {"mergeRequests": {"count": len(merge_requests),
                                          "pageInfo": {"hasNextPage": False, "endCursor": "eyJpZCI6MTR9"},
                                          "nodes": merge_requests}}}},
        "pipelines/00000001.json": pipelines,
        **{f"jobs/{k:08}.json": jobs[pid] for k, pid in enumerate(sorted(jobs), 1)},
        "deployments/00000001.json": deployments,
        **{f"deployment_merge_requests/{did}.json": mrs for did, mrs in shipped.items()},
    }
    root = GITLAB.joinpath(*GITLAB_PROJECT.split("/"))
    for old in root.glob("*/*.json"):
        old.unlink()
    for name, page in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(page, indent=2, ensure_ascii=False) + "\n")
    return {"merge_requests": len(merge_requests), "pipelines": len(pipelines),
            "jobs": sum(len(j) for j in jobs.values()), "deployments": len(deployments),
            "deployment_merge_requests": len(shipped)}


def write_csv(name, columns, rows):
    with open(HERE / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([cell(row.get(c)) for c in columns])


def main():
    org = Org()
    build_storefront(org)
    build_payments(org)
    build_ledger(org)
    ids = numbered(org)

    deployment_columns = ["id", "service", "environment", "repo", "sha", "started_at", "finished_at", "status",
                          "triggered_by", "is_manual", "approval_wait_seconds", "is_rollback", "is_hotfix", "commits"]
    write_csv("deployments.csv", deployment_columns, org.deployments)

    # ledger's automated syncs are GitHub deployments; incidents name them by their GitHub ids.
    deployment_ids = {d["key"]: f"github:deployment:{GITHUB_REPO}:{github_deployment_id(d)}"
                      for d in org.github_deployments}

    with open(HERE / "ledger-deployments.json", "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join("  " + json.dumps(d) for d in org.ledger_deployments))
        f.write("\n]\n")

    change_columns = ["id", "repo", "service", "number", "title", "author", "created_at", "first_commit_at",
                      "first_review_at", "approved_at", "merged_at", "closed_at", "base_branch", "head_branch",
                      "merge_commit_sha", "additions", "deletions", "files_changed", "is_revert",
                      "reverts_change_id", "labels", "commits"]
    on_github = {c["key"] for c in org.changes if c["repo"] == GITHUB_REPO}
    changes = sorted((c for c in org.changes if c["key"] not in on_github), key=lambda c: (c["repo"], c["number"]))
    for c in changes:
        c["id"] = ids[c["key"]]
        c["reverts_change_id"] = ids[c["reverts"]] if c["reverts"] else None
    write_csv("changes.csv", change_columns, changes)

    reviews = [{"id": rid, "change_id": ids[key], "reviewer": who, "state": state, "submitted_at": t}
               for rid, key, who, state, t in org.reviews if key not in on_github]
    reviews.sort(key=lambda r: (r["submitted_at"], r["id"]))
    write_csv("reviews.csv", ["id", "change_id", "reviewer", "state", "submitted_at"], reviews)
    reviews_by_key = {}
    for review in org.reviews:
        if review[1] in on_github:
            reviews_by_key.setdefault(review[1], []).append(review)
    recorded = write_recorded(org, reviews_by_key)

    incidents = sorted(org.incidents, key=lambda i: i["opened_at"])
    for n, i in enumerate(incidents, 1001):
        i["id"] = f"INC-{n}"
        if i["caused_by_deployment_id"]:
            i["caused_by_deployment_id"] = deployment_ids.get(i["caused_by_deployment_id"],
                                                              i["caused_by_deployment_id"])
    in_jira = [i for i in incidents if i["service"] == "ledger"]
    from_pagerduty = [i for i in incidents if i["service"] == PAGERDUTY_SERVICE]
    with open(HERE / "incidents.ndjson", "w", encoding="utf-8") as f:
        for i in incidents:
            if i["service"] not in ("ledger", PAGERDUTY_SERVICE):
                row = {k: v for k, v in i.items() if v is not None and k != "mitigated"}
                f.write(json.dumps(row) + "\n")
    pagerduty = write_pagerduty(from_pagerduty, org.deployments)
    write_jira(in_jira)
    gitlab = write_gitlab()

    write_csv("pipelines.csv", ["id", "repo", "service", "name", "ref", "trigger", "triggered_by", "queued_at",
                                "started_at", "finished_at", "status", "attempt"], org.pipelines)
    write_csv("jobs.csv", ["id", "pipeline_id", "name", "stage", "status", "is_manual", "triggered_by",
                           "queued_at", "started_at", "finished_at", "attempt"], org.jobs)

    sizes = {
        "deployments.csv": len(org.deployments),
        "ledger-deployments.json": len(org.ledger_deployments),
        "changes.csv": len(changes),
        "reviews.csv": len(reviews),
        "incidents.ndjson": len(org.incidents) - len(in_jira) - len(from_pagerduty),
        **{f"pagerduty/{resource}": n for resource, n in pagerduty.items()},
        f"jira/{JIRA_SITE}/search": len(in_jira),
        "pipelines.csv": len(org.pipelines),
        "jobs.csv": len(org.jobs),
        **{f"github/{GITHUB_REPO}/{resource}": n for resource, n in recorded.items()},
        **{f"gitlab/{GITLAB_PROJECT}/{resource}": n for resource, n in gitlab.items()},
    }
    for name, n in sizes.items():
        print(f"{name:34} {n:5} rows")
    print(f"{'total':34} {sum(sizes.values()):5} rows")


if __name__ == "__main__":
    main()
