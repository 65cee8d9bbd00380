#!/usr/bin/env python3
"""The DORA metrics of docs/metrics.md computed by DuckDB over a flowgauge workspace: the yardstick
`cargo bench --bench metrics` runs beside `flowgauge metrics`.

Written from the definitions in docs/metrics.md (not from queries/*.sql), so that agreement between
the two is evidence that the queries do what the documentation says, and the timing shows what an
engine built for analytical SQL takes for the same work over the same parquet.

    python3 benches/duckdb_metrics.py --workspace DIR --since 2025-01-01 --until 2026-01-01 \
        [--config flowgauge.toml] [--out FILE]
    python3 benches/duckdb_metrics.py --compare flowgauge.json duckdb.json

The first form prints the figures as JSON shaped like `flowgauge metrics --format json` (without
levels); the second compares every figure of two such files and prints how many agree.
Needs the `duckdb` Python package (`pip install duckdb`). Reads `analysis.since`, `analysis.until`,
`analysis.first_deployment_lookback_days`, `analysis.incident_link_hours` and each service's
`incident_link_hours` from --config when given; --since/--until win.
"""

import argparse
import datetime as dt
import json
import math
import os
import sys

UTC = dt.timezone.utc


# --- the calendar (docs/metrics.md, "The analysis window and periods") ---------------------------

def month_start(d):
    return d.replace(day=1)


def add_months(d, n):
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def midnight(d):
    return dt.datetime(d.year, d.month, d.day, tzinfo=UTC)


def months_between(start, end):
    """Calendar months the period [start, end) overlaps, each by the share of its days inside."""
    total = 0.0
    month = month_start(start.date())
    while midnight(month) < end:
        nxt = add_months(month, 1)
        inside = min(end, midnight(nxt)) - max(start, midnight(month))
        total += inside.total_seconds() / (midnight(nxt) - midnight(month)).total_seconds()
        month = nxt
    return round(total * 1e9) / 1e9


def window_label(since, until):
    if since.time() == dt.time(0) and until.time() == dt.time(0):
        return f"{since.date()}..{until.date()}"
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{fmt(since)}..{fmt(until)}"


def periods(grain, since, until):
    """(label, start, end) of every period of a grain, clipped to the window."""
    if grain == "window":
        return [(window_label(since, until), since, until)]
    d = since.date()
    if grain == "week":
        start = d - dt.timedelta(days=d.weekday())
    elif grain == "month":
        start = d.replace(day=1)
    else:
        start = dt.date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    out = []
    while midnight(start) < until:
        if grain == "week":
            nxt = start + dt.timedelta(days=7)
            iso = start.isocalendar()
            label = f"{iso[0]}-W{iso[1]:02d}"
        elif grain == "month":
            nxt = add_months(start, 1)
            label = f"{start.year}-{start.month:02d}"
        else:
            nxt = add_months(start, 3)
            label = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        out.append((label, max(midnight(start), since), min(midnight(nxt), until)))
        start = nxt
    return out


def whole_weeks(since, until):
    """Mondays of the weeks that lie entirely inside the window."""
    d = since.date()
    monday = d - dt.timedelta(days=d.weekday())
    if midnight(monday) < since:
        monday += dt.timedelta(days=7)
    out = []
    while midnight(monday + dt.timedelta(days=7)) <= until:
        out.append(monday)
        monday += dt.timedelta(days=7)
    return out


GRAINS = ["window", "quarter", "month", "week"]


# --- the computation ------------------------------------------------------------------------------

# The key columns of each table (docs/data-model.md): a partition's superseding files hold keys of
# its earlier files, and the row of the latest file holding a key is the table's row.
KEYS = {
    "services": ["service"], "changes": ["id"], "change_commits": ["change_id", "sha"],
    "commits": ["repo", "sha"], "commit_files": ["repo", "sha", "path"], "reviews": ["id"],
    "pipelines": ["id"], "jobs": ["id"], "deployments": ["id"],
    "deployment_commits": ["deployment_id", "sha"], "incidents": ["id"], "approvals": ["id"],
    "evidence": ["id"], "forge_metrics": ["id"],
}


def table_source(workspace, name):
    """A workspace table as DuckDB reads it: the files the manifest names for it (the partitioned
    layout, docs/workspace.md: each partition's file and the files appended to it, oldest first;
    in a partition with superseding files the latest file holding a key wins), else the one file
    per table of workspaces written before partitions."""
    manifest_path = os.path.join(workspace, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            partitions = json.load(f).get("tables", {}).get(name)
        if partitions:
            def files(part):
                return [os.path.join(workspace, path) for path in [part["file"], *part.get("appended", [])]]
            plain = [path for part in partitions.values() if not part.get("superseding") for path in files(part)]
            selects = []
            if plain:
                listed = ", ".join(f"'{path}'" for path in plain)
                selects.append(f"SELECT * FROM read_parquet([{listed}], union_by_name = true)")
            for part in partitions.values():
                if part.get("superseding"):
                    selects.append(newest_wins(files(part), KEYS[name]))
            if len(selects) == 1 and plain:
                return f"read_parquet([{listed}], union_by_name = true)"
            return "(" + " UNION ALL BY NAME ".join(selects) + ")"
    single = os.path.join(workspace, f"{name}.parquet")
    if os.path.exists(single):
        return f"read_parquet('{single}')"
    return None


def newest_wins(paths, keys):
    """The rows of one partition's files (oldest first), each key's row from the latest file holding it."""
    numbered = " UNION ALL BY NAME ".join(
        f"SELECT *, {n} AS _fg_file FROM read_parquet('{path}')" for n, path in enumerate(paths))
    return (f"SELECT * EXCLUDE (_fg_file) FROM ({numbered}) "
            f"QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY _fg_file DESC) = 1")


def ts(column):
    """Whole seconds since the epoch (fractions dropped), as flowgauge's `x_ts`."""
    return f"(epoch_us({column}) // 1000000)"


def compute(con, workspace, since, until, lookback_days, link_hours, service_link_hours, configured):
    def view(name, select):
        source = table_source(workspace, name)
        if source is None:
            raise SystemExit(f"{workspace}: no table {name}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_raw AS SELECT * FROM {source}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM {name}_raw")

    view("deployments", f"""id, service, environment, status, is_production, sha,
        {ts('started_at')} AS started_ts, {ts('finished_at')} AS finished_ts,
        COALESCE(is_rollback, false) AS is_rollback, COALESCE(is_hotfix, false) AS is_hotfix""")
    view("changes", f"""id, service, author, is_revert, reverts_change_id, merge_commit_sha,
        {ts('created_at')} AS created_ts, {ts('first_commit_at')} AS first_commit_ts,
        {ts('first_review_at')} AS first_review_ts, {ts('merged_at')} AS merged_ts""")
    # Workspaces written before the tracker columns existed lack them: they read as empty.
    incident_columns = {r[0] for r in con.execute(
        f"DESCRIBE SELECT * FROM {table_source(workspace, 'incidents')}").fetchall()}
    present = lambda column, kind: column if column in incident_columns else f"NULL::{kind}"
    view("incidents", f"""id, service, caused_by_deployment_id, caused_by_change_id, caused_by_sha,
        {present('tracker_deployment_id', 'VARCHAR')} AS tracker_deployment_id,
        {ts('opened_at')} AS opened_ts,
        {ts('resolved_at')} AS resolved_ts,
        -- Time to restore stops when the impact ended: mitigated_at where the tracker records it,
        -- else resolved_at. A failed deployment's recovery still waits for its incidents' resolution.
        COALESCE({ts(present('mitigated_at', 'TIMESTAMP'))}, {ts('resolved_at')}) AS restored_ts""")
    view("reviews", f"change_id, reviewer, {ts('submitted_at')} AS submitted_ts")
    view("change_commits", "change_id, sha")
    view("deployment_commits", "deployment_id, sha")
    view("services", "service")

    lookback = int(lookback_days * 86400)
    since_ts, until_ts = int(since.timestamp()), int(until.timestamp())
    con.execute("CREATE OR REPLACE TEMP TABLE configured (service VARCHAR)")
    if configured:
        con.executemany("INSERT INTO configured VALUES (?)", [(name,) for name in configured])
    con.execute("CREATE OR REPLACE TEMP TABLE link_hours (service VARCHAR, hours DOUBLE)")
    if service_link_hours:
        con.executemany("INSERT INTO link_hours VALUES (?, ?)", list(service_link_hours.items()))

    # Successful production deployments in the service's sequence (finished_at, then id); the start
    # is started_at, or finished_at when that is empty or later. A service number folded into the
    # time keys lets DuckDB match time intervals per service with a plain range join.
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE service_numbers AS
    SELECT service, ROW_NUMBER() OVER (ORDER BY service) AS k FROM (
        SELECT service FROM deployments UNION SELECT service FROM changes UNION SELECT service FROM incidents
        UNION SELECT service FROM services UNION SELECT service FROM configured) WHERE service IS NOT NULL;
    CREATE OR REPLACE TEMP TABLE prod AS
    SELECT d.id, d.service, d.finished_ts, LEAST(COALESCE(d.started_ts, d.finished_ts), d.finished_ts) AS start_ts,
           d.is_rollback, d.is_hotfix, n.k AS service_k,
           ROW_NUMBER() OVER w AS seq,
           LAG(d.id) OVER w AS prev_id,
           LEAD(d.is_rollback) OVER w AS next_is_rollback,
           LEAD(d.is_hotfix) OVER w AS next_is_hotfix,
           LEAD(d.finished_ts) OVER w AS next_finished_ts
    FROM deployments d JOIN service_numbers n ON n.service = d.service
    WHERE d.status = 'success' AND d.is_production AND d.finished_ts IS NOT NULL
    WINDOW w AS (PARTITION BY d.service ORDER BY d.finished_ts, d.id);
    """)
    # What each deployment shipped: its recorded commits, or for a production deployment that is not
    # a rollback and has none recorded, the merge commits of its service's changes merged after the
    # previous such deployment started and no later than it started (its first: after its start
    # minus the look-back).
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE intervals AS
    SELECT id, service, service_k,
           COALESCE(LAG(start_ts) OVER (PARTITION BY service ORDER BY finished_ts, id), start_ts - {lookback}) AS low,
           start_ts AS high
    FROM prod WHERE NOT is_rollback;
    CREATE OR REPLACE TEMP TABLE shipped AS
    SELECT deployment_id, sha FROM deployment_commits WHERE deployment_id IS NOT NULL AND sha IS NOT NULL
    UNION ALL
    SELECT i.id, c.merge_commit_sha
    FROM intervals i
    JOIN (SELECT c.*, n.k * 10000000000 + c.merged_ts AS merged_key
          FROM changes c JOIN service_numbers n ON n.service = c.service
          WHERE c.merged_ts IS NOT NULL AND c.merge_commit_sha IS NOT NULL) c
      ON c.merged_key > i.service_k * 10000000000 + i.low AND c.merged_key <= i.service_k * 10000000000 + i.high
    WHERE i.id NOT IN (SELECT deployment_id FROM deployment_commits WHERE deployment_id IS NOT NULL);
    """)
    # Lead time: each change's earliest successful production deployment of its own service that
    # shipped its merge commit or one of its commits.
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE change_deploys AS
    WITH change_shas AS (
        SELECT id AS change_id, merge_commit_sha AS sha FROM changes WHERE merge_commit_sha IS NOT NULL
        UNION SELECT change_id, sha FROM change_commits
    )
    SELECT DISTINCT cs.change_id, d.id AS deployment_id, d.finished_ts,
           d.status = 'success' AND d.is_production AND d.finished_ts IS NOT NULL AS prod,
           d.is_production
    FROM change_shas cs
    JOIN shipped s ON s.sha = cs.sha
    JOIN deployments d ON d.id = s.deployment_id
    JOIN changes c ON c.id = cs.change_id AND c.service = d.service;

    CREATE OR REPLACE TEMP TABLE lead AS
    WITH first_prod AS (
        SELECT change_id, deployment_id, finished_ts FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY change_id ORDER BY finished_ts, deployment_id) AS r
            FROM change_deploys WHERE prod) WHERE r = 1
    ),
    elsewhere AS (
        SELECT change_id, bool_or(is_production = false) AS outside, bool_or(is_production) AS failed_prod
        FROM change_deploys WHERE NOT prod GROUP BY change_id
    ),
    responses AS (
        SELECT r.change_id, MIN(r.submitted_ts) AS ts
        FROM reviews r JOIN changes c ON c.id = r.change_id
        WHERE r.reviewer IS NULL OR c.author IS NULL OR r.reviewer <> c.author
        GROUP BY r.change_id
    ),
    timed AS (
        SELECT c.id, c.service, c.is_revert, c.merged_ts, c.created_ts,
               c.first_commit_ts AS recorded_first_ts,
               COALESCE(c.first_commit_ts, c.created_ts) AS start_ts,
               LEAST(c.first_review_ts, r.ts) AS response_ts,
               f.deployment_id, f.finished_ts AS deployed_ts,
               COALESCE(e.outside, false) AS outside, COALESCE(e.failed_prod, false) AS failed_prod,
               p.seq = 1 AS by_first, p.start_ts - {lookback} AS baseline_ts
        FROM changes c
        LEFT JOIN responses r ON r.change_id = c.id
        LEFT JOIN first_prod f ON f.change_id = c.id
        LEFT JOIN prod p ON p.id = f.deployment_id
        LEFT JOIN elsewhere e ON e.change_id = c.id
    )
    SELECT *,
        deployed_ts - start_ts AS lead_s,
        CASE WHEN recorded_first_ts IS NOT NULL AND created_ts IS NOT NULL
             THEN GREATEST(created_ts - recorded_first_ts, 0) END AS coding_s,
        CASE WHEN response_ts IS NOT NULL AND created_ts IS NOT NULL
             THEN GREATEST(response_ts - created_ts, 0) END AS pickup_s,
        CASE WHEN merged_ts IS NOT NULL AND COALESCE(response_ts, created_ts) IS NOT NULL
             THEN GREATEST(merged_ts - COALESCE(response_ts, created_ts), 0) END AS review_s,
        CASE WHEN merged_ts IS NOT NULL AND deployed_ts IS NOT NULL
             THEN GREATEST(deployed_ts - merged_ts, 0) END AS deploy_s,
        CASE
            WHEN start_ts IS NULL THEN 'no start time'
            WHEN merged_ts IS NULL AND deployment_id IS NULL THEN 'not merged'
            WHEN deployment_id IS NULL AND outside THEN 'deployed only outside production'
            WHEN deployment_id IS NULL AND failed_prod THEN 'only failed production'
            WHEN deployment_id IS NULL THEN 'never deployed'
            WHEN by_first AND COALESCE(merged_ts, start_ts) < baseline_ts THEN 'before look-back'
            WHEN deployed_ts < {since_ts} THEN 'before the window'
            WHEN deployed_ts >= {until_ts} THEN 'after the window'
            WHEN deployed_ts - start_ts <= 0 THEN 'not before'
            ELSE 'counted'
        END AS reason
    FROM timed;
    """)
    link_incidents(con, link_hours)
    # Deployments: failed (incident, rolled back, hotfixed, reverted), restored, rework.
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE outcomes AS
    WITH hits AS (
        SELECT l.deployment_id, COUNT(*) AS incidents, bool_and(i.resolved_ts IS NOT NULL) AS all_resolved,
               MAX(i.resolved_ts) AS last_resolved_ts
        FROM links l JOIN incidents i ON i.id = l.incident_id
        GROUP BY l.deployment_id
    ),
    reverted AS (
        SELECT original.deployment_id, MIN(fix.deployed_ts) AS revert_ts
        FROM changes r
        JOIN lead original ON original.id = r.reverts_change_id
        LEFT JOIN lead fix ON fix.id = r.id
        WHERE r.is_revert AND original.deployment_id IS NOT NULL
        GROUP BY original.deployment_id
    ),
    ships_revert AS (
        SELECT DISTINCT deployment_id FROM lead WHERE is_revert AND deployment_id IS NOT NULL
    ),
    judged AS (
        SELECT p.id, p.service, p.finished_ts AS deployed_ts, p.is_rollback, p.is_hotfix,
               COALESCE(h.incidents, 0) AS incidents,
               COALESCE(p.next_is_rollback, false) AS rolled_back,
               COALESCE(p.next_is_hotfix, false) AS hotfixed,
               rv.deployment_id IS NOT NULL AS reverted,
               sr.deployment_id IS NOT NULL AS ships_revert,
               CASE WHEN p.next_is_rollback THEN p.next_finished_ts END AS rollback_ts,
               CASE WHEN p.next_is_hotfix THEN p.next_finished_ts END AS hotfix_ts,
               rv.revert_ts,
               CASE WHEN h.all_resolved THEN h.last_resolved_ts END AS incidents_resolved_ts
        FROM prod p
        LEFT JOIN hits h ON h.deployment_id = p.id
        LEFT JOIN reverted rv ON rv.deployment_id = p.id
        LEFT JOIN ships_revert sr ON sr.deployment_id = p.id
        WHERE p.finished_ts >= {since_ts} AND p.finished_ts < {until_ts}
    )
    SELECT *,
        incidents > 0 OR rolled_back OR hotfixed OR reverted AS failed,
        is_rollback OR is_hotfix OR ships_revert AS rework,
        -- Never negative; empty (not 0) when no restoration is known: GREATEST skips empty values.
        CASE WHEN (incidents > 0 OR rolled_back OR hotfixed OR reverted)
                  AND LEAST(rollback_ts, hotfix_ts, revert_ts, incidents_resolved_ts) IS NOT NULL THEN
            GREATEST(LEAST(rollback_ts, hotfix_ts, revert_ts, incidents_resolved_ts) - deployed_ts, 0) END AS recovery_s
    FROM judged;
    """)
    return figures(con, since, until, configured)


def link_incidents(con, default_hours):
    """Each incident's causing deployment: explicit, else the tracker's correlation, else by the change
    or commit it names, else by the link window (docs/metrics.md, "Linking incidents to deployments")."""
    con.execute(f"""
    -- (service, commit) -> the service's earliest successful production deployment that shipped it,
    -- the commits each deployment shipped and the commit it deployed.
    CREATE OR REPLACE TEMP TABLE commit_first AS
    SELECT service, sha, arg_min(id, (finished_ts, id)) AS deployment_id, MIN(finished_ts) AS finished_ts
    FROM (SELECT p.service, lower(s.sha) AS sha, p.id, p.finished_ts FROM shipped s JOIN prod p ON p.id = s.deployment_id
          UNION ALL
          SELECT p.service, lower(d.sha), p.id, p.finished_ts FROM deployments d JOIN prod p ON p.id = d.id WHERE d.sha IS NOT NULL)
    GROUP BY service, sha;
    CREATE OR REPLACE TEMP TABLE change_sha AS
    SELECT id AS change_id, lower(merge_commit_sha) AS sha FROM changes WHERE merge_commit_sha IS NOT NULL
    UNION SELECT change_id, lower(sha) FROM change_commits;

    CREATE OR REPLACE TEMP TABLE named AS
    SELECT id, COALESCE(service, '') AS service, opened_ts, caused_by_change_id,
           lower(trim(caused_by_sha)) AS sha,
           length(trim(caused_by_sha)) BETWEEN 7 AND 39 AS abbreviated
    FROM incidents
    WHERE id IS NOT NULL AND caused_by_deployment_id IS NULL
      AND (caused_by_change_id IS NOT NULL OR caused_by_sha IS NOT NULL);

    -- The commit itself: an exact match, else (7 to 39 digits) every shipped commit it prefixes.
    -- (Every such prefix has at least 7 digits, so candidates share the first 7.)
    CREATE OR REPLACE TEMP TABLE sha_direct AS
    WITH exact AS (
        SELECT n.id, c.finished_ts, c.deployment_id FROM named n
        JOIN commit_first c ON c.service = n.service AND c.sha = n.sha
    ),
    prefixed AS (
        SELECT n.id, c.finished_ts, c.deployment_id FROM named n
        JOIN commit_first c ON c.service = n.service AND left(c.sha, 7) = left(n.sha, 7) AND starts_with(c.sha, n.sha)
        WHERE n.abbreviated AND n.id NOT IN (SELECT id FROM exact)
    )
    SELECT id, arg_min(deployment_id, (finished_ts, deployment_id)) AS deployment_id, MIN(finished_ts) AS finished_ts
    FROM (SELECT * FROM exact UNION ALL SELECT * FROM prefixed) GROUP BY id;

    -- A commit no deployment shipped stands for the changes it belongs to (exactly, else by prefix).
    CREATE OR REPLACE TEMP TABLE sha_changes AS
    WITH pending AS (SELECT * FROM named WHERE sha IS NOT NULL AND id NOT IN (SELECT id FROM sha_direct)),
    exact AS (SELECT DISTINCT n.id, cs.change_id FROM pending n JOIN change_sha cs ON cs.sha = n.sha),
    prefixed AS (
        SELECT DISTINCT n.id, cs.change_id FROM pending n
        JOIN change_sha cs ON left(cs.sha, 7) = left(n.sha, 7) AND starts_with(cs.sha, n.sha)
        WHERE n.abbreviated AND n.id NOT IN (SELECT id FROM exact)
    )
    SELECT * FROM exact UNION ALL SELECT * FROM prefixed;

    -- A change's deployment: the earliest of its service's that shipped any of its commits, each
    -- commit matched as above.
    CREATE OR REPLACE TEMP TABLE change_first AS
    WITH wanted AS (
        SELECT DISTINCT n.service, cs.change_id, cs.sha FROM (
            SELECT service, caused_by_change_id AS change_id FROM named WHERE caused_by_change_id IS NOT NULL
            UNION SELECT n.service, s.change_id FROM named n JOIN sha_changes s ON s.id = n.id) n
        JOIN change_sha cs ON cs.change_id = n.change_id
    ),
    exact AS (
        SELECT w.service, w.change_id, w.sha, c.finished_ts, c.deployment_id FROM wanted w
        JOIN commit_first c ON c.service = w.service AND c.sha = w.sha
    ),
    prefixed AS (
        SELECT w.service, w.change_id, w.sha, c.finished_ts, c.deployment_id FROM wanted w
        JOIN commit_first c ON c.service = w.service AND left(c.sha, 7) = left(w.sha, 7) AND starts_with(c.sha, w.sha)
        WHERE length(w.sha) BETWEEN 7 AND 39
          AND NOT EXISTS (SELECT 1 FROM exact e WHERE e.service = w.service AND e.change_id = w.change_id AND e.sha = w.sha)
    )
    SELECT service, change_id, arg_min(deployment_id, (finished_ts, deployment_id)) AS deployment_id,
           MIN(finished_ts) AS finished_ts
    FROM (SELECT * FROM exact UNION ALL SELECT * FROM prefixed) GROUP BY service, change_id;

    CREATE OR REPLACE TEMP TABLE by_reference AS
    WITH via_change AS (
        SELECT n.id, f.deployment_id, f.finished_ts FROM named n
        JOIN change_first f ON f.service = n.service AND f.change_id = n.caused_by_change_id
    ),
    via_sha AS (
        SELECT id, deployment_id, finished_ts FROM sha_direct
        UNION ALL
        SELECT n.id, arg_min(f.deployment_id, (f.finished_ts, f.deployment_id)), MIN(f.finished_ts)
        FROM named n
        JOIN sha_changes s ON s.id = n.id
        JOIN change_first f ON f.service = n.service AND f.change_id = s.change_id
        GROUP BY n.id
    )
    SELECT n.id,
        CASE WHEN vc.finished_ts <= n.opened_ts THEN vc.deployment_id
             WHEN vs.finished_ts <= n.opened_ts THEN vs.deployment_id END AS deployment_id
    FROM named n
    LEFT JOIN via_change vc ON vc.id = n.id
    LEFT JOIN via_sha vs ON vs.id = n.id AND n.sha IS NOT NULL;

    CREATE OR REPLACE TEMP TABLE links AS
    WITH latest AS (
        SELECT i.id, p.finished_ts, COALESCE(h.hours, {default_hours}) AS hours, i.opened_ts, i.service
        FROM incidents i
        LEFT JOIN link_hours h ON h.service = i.service
        ASOF JOIN prod p ON p.service = i.service AND p.finished_ts <= i.opened_ts
        WHERE i.id IS NOT NULL AND i.opened_ts IS NOT NULL
    ),
    windowed AS (
        SELECT l.id, MAX(p.id) AS deployment_id FROM latest l
        JOIN prod p ON p.service = l.service AND p.finished_ts = l.finished_ts
        WHERE l.opened_ts - l.finished_ts <= l.hours * 3600
        GROUP BY l.id
    ),
    -- The tracker's own correlation: a successful production deployment of the incident's service
    -- that finished at or before it opened; any other id is no link.
    tracked AS (
        SELECT i.id, p.id AS deployment_id FROM incidents i
        JOIN prod p ON p.id = i.tracker_deployment_id AND p.service = i.service AND p.finished_ts <= i.opened_ts
    )
    SELECT i.id AS incident_id,
           COALESCE(i.caused_by_deployment_id, t.deployment_id, r.deployment_id, w.deployment_id) AS deployment_id
    FROM incidents i
    LEFT JOIN tracked t ON t.id = i.id
    LEFT JOIN by_reference r ON r.id = i.id
    LEFT JOIN windowed w ON w.id = i.id
    WHERE i.id IS NOT NULL
      AND COALESCE(i.caused_by_deployment_id, t.deployment_id, r.deployment_id, w.deployment_id) IS NOT NULL;
    """)


def figures(con, since, until, configured):
    """Every figure per service and period, shaped like `flowgauge metrics --format json`."""
    rows = []
    for grain in GRAINS:
        for label, start, end in periods(grain, since, until):
            rows.append((grain, label, int(start.timestamp()), int(end.timestamp())))
    con.execute("CREATE OR REPLACE TEMP TABLE periods (grain VARCHAR, label VARCHAR, start_ts BIGINT, end_ts BIGINT)")
    con.executemany("INSERT INTO periods VALUES (?, ?, ?, ?)", rows)
    mondays = [(int(midnight(m).timestamp()),) for m in whole_weeks(since, until)]
    con.execute("CREATE OR REPLACE TEMP TABLE mondays (start_ts BIGINT)")
    if mondays:
        con.executemany("INSERT INTO mondays VALUES (?)", mondays)

    def per_period(select, source, event, extra_group=""):
        """`select` aggregated per service and period of every grain over `source`, each record in
        the period containing its `event` time."""
        return con.execute(f"""
            SELECT p.grain, p.label, r.service, {select}
            FROM ({source}) r JOIN periods p ON r.{event} >= p.start_ts AND r.{event} < p.end_ts
            GROUP BY p.grain, p.label, r.service {extra_group}""").fetchall()

    hours = lambda x: f"quantile_cont({x}, 0.5) / 3600.0"
    p = lambda x, q: f"quantile_cont({x}, {q}) / 3600.0"
    deploys = per_period(
        "COUNT(*), COUNT(DISTINCT deployed_ts // 86400), SUM(failed::INT), SUM((incidents > 0)::INT), "
        "SUM(rolled_back::INT), SUM(hotfixed::INT), SUM(reverted::INT), SUM(rework::INT), "
        "COUNT(CASE WHEN failed THEN recovery_s END), SUM((failed AND recovery_s IS NULL)::INT), "
        f"{hours('CASE WHEN failed THEN recovery_s END')}, {p('CASE WHEN failed THEN recovery_s END', 0.75)}",
        "SELECT * FROM outcomes", "deployed_ts")
    lead = per_period(
        f"COUNT(*), {hours('lead_s')}, {p('lead_s', 0.75)}, {p('lead_s', 0.9)}, "
        + ", ".join(f"{hours(s)}, {p(s, 0.75)}" for s in ("coding_s", "pickup_s", "review_s", "deploy_s")),
        "SELECT * FROM lead WHERE reason = 'counted'", "deployed_ts")
    restore = per_period(
        f"COUNT(restored_ts), SUM((restored_ts IS NULL)::INT), {hours('restored_ts - opened_ts')}, "
        f"{p('restored_ts - opened_ts', 0.75)}, {p('restored_ts - opened_ts', 0.9)}",
        "SELECT * FROM incidents", "opened_ts")
    # Whole weeks: each belongs to the period holding its Monday; its deployment days are the
    # distinct dates of the service's counted deployments in those seven days.
    weeks = con.execute("""
        WITH days AS (
            SELECT m.start_ts, o.service, COUNT(DISTINCT o.deployed_ts // 86400) AS days
            FROM mondays m JOIN outcomes o ON o.deployed_ts >= m.start_ts AND o.deployed_ts < m.start_ts + 604800
            GROUP BY m.start_ts, o.service
        ),
        grid AS (SELECT s.service, m.start_ts FROM service_numbers s, mondays m)
        SELECT p.grain, p.label, g.service, quantile_cont(COALESCE(d.days, 0), 0.5), COUNT(*)
        FROM grid g
        JOIN periods p ON g.start_ts >= p.start_ts AND g.start_ts < p.end_ts
        LEFT JOIN days d ON d.service = g.service AND d.start_ts = g.start_ts
        GROUP BY p.grain, p.label, g.service""").fetchall()
    deployed_services = {r[0] for r in con.execute("SELECT DISTINCT service FROM deployments").fetchall()}
    names = sorted(set(configured) | {r[0] for r in con.execute("SELECT service FROM service_numbers").fetchall()})

    index = lambda rows: {(r[0], r[1], r[2]): r[3:] for r in rows}
    deploys, lead, restore, weeks = index(deploys), index(lead), index(restore), index(weeks)
    services = []
    for name in names:
        entry = {"service": name}
        for grain in GRAINS:
            out = []
            for label, start, end in periods(grain, since, until):
                key = (grain, label, name)
                out.append(period_figures(label, start, end, deploys.get(key), lead.get(key), restore.get(key),
                                          weeks.get(key), name in deployed_services))
            entry[grain] = out[0] if grain == "window" else out
        services.append(entry)
    return {"services": services}


def period_figures(label, start, end, d, lt, ttr, wk, has_deployments):
    days = (end - start).total_seconds() / 86400
    months = months_between(start, end)
    d = d or (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, None)
    lt = lt or (0,) + (None,) * 11
    ttr = ttr or (0, 0, None, None, None)
    median_days, whole = (wk[0], wk[1]) if wk else (None, 0)
    deployments, deployment_days = d[0], d[1]
    if median_days is not None and median_days >= 5:
        bucket = "on demand"
    elif median_days is not None and median_days >= 3:
        bucket = "daily"
    elif median_days is not None and median_days >= 1:
        bucket = "weekly"
    elif deployment_days >= months:
        bucket = "monthly"
    else:
        bucket = "fewer than monthly"
    rate = lambda a, b: a / b if b else None
    stage = lambda k: {"median_hours": lt[4 + 2 * k], "p75_hours": lt[5 + 2 * k]}
    return {
        "period": label,
        "deployment_frequency": {
            "deployments": deployments, "deployment_days": deployment_days, "days": days, "months": months,
            "per_day": deployments / days, "per_week": deployments * 7 / days,
            "deployment_days_per_week": deployment_days * 7 / days,
            "median_weekly_deployment_days": median_days, "whole_weeks": whole, "bucket": bucket,
            "service_has_deployments": has_deployments,
        },
        "lead_time": {
            "changes": lt[0], "median_hours": lt[1], "p75_hours": lt[2], "p90_hours": lt[3],
            "coding": stage(0), "pickup": stage(1), "review": stage(2), "deploy": stage(3),
        },
        "change_failure_rate": {
            "deployments": deployments, "failed": d[2], "with_incident": d[3], "rolled_back": d[4],
            "hotfixed": d[5], "reverted": d[6], "rate": rate(d[2], deployments),
        },
        "failed_deployment_recovery_time": {
            "failures": d[8], "unrestored": d[9], "median_hours": d[10], "p75_hours": d[11],
        },
        "time_to_restore": {
            "incidents": ttr[0], "open": ttr[1], "median_hours": ttr[2], "p75_hours": ttr[3], "p90_hours": ttr[4],
        },
        "rework_rate": {"deployments": deployments, "rework": d[7], "rate": rate(d[7], deployments)},
    }


# --- comparison ------------------------------------------------------------------------------------

def leaves(prefix, value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in ("levels", "start", "end"):
                leaves(f"{prefix}.{k}", v, out)
    elif isinstance(value, list):
        for v in value:
            leaves(f"{prefix}[{v.get('period')}]", v, out)
    else:
        out[prefix] = value


def flatten(doc):
    out = {}
    for s in doc["services"]:
        for grain in GRAINS:
            leaves(f"{s['service']}.{grain}", s[grain], out)
    return out


def same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def compare(ours_path, theirs_path):
    ours, theirs = flatten(json.load(open(ours_path))), flatten(json.load(open(theirs_path)))
    keys = sorted(set(ours) | set(theirs))
    differ = [k for k in keys if not same(ours.get(k, "<missing>"), theirs.get(k, "<missing>"))]
    print(f"figures compared: {len(keys)}; agree: {len(keys) - len(differ)}; disagree: {len(differ)}")
    for k in differ[:20]:
        print(f"  {k}: flowgauge {ours.get(k, '<missing>')!r}, DuckDB {theirs.get(k, '<missing>')!r}")
    if len(differ) > 20:
        print(f"  … and {len(differ) - 20} more")
    return 1 if differ else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace")
    ap.add_argument("--config")
    ap.add_argument("--since")
    ap.add_argument("--until")
    ap.add_argument("--out", default="-")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--compare", nargs=2, metavar=("FLOWGAUGE_JSON", "DUCKDB_JSON"))
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    import duckdb

    analysis, services = {}, []
    if args.config:
        import tomllib
        with open(args.config, "rb") as f:
            cfg = tomllib.load(f)
        analysis, services = cfg.get("analysis", {}), cfg.get("services", [])
    day = lambda s: dt.datetime.combine(dt.date.fromisoformat(str(s)), dt.time(0), tzinfo=UTC)
    since = day(args.since or analysis["since"])
    until = day(args.until or analysis["until"])
    link_hours = float(analysis.get("incident_link_hours", 24))
    per_service = {s["name"]: float(s.get("incident_link_hours", link_hours)) for s in services}
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    result = compute(con, args.workspace, since, until, float(analysis.get("first_deployment_lookback_days", 7)),
                     link_hours, per_service, [s["name"] for s in services])
    text = json.dumps(result, indent=1)
    if args.out == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
