-- name: Deployment outcomes, per deployment
-- unit: seconds
-- grain: record
-- requires: deploys, incident_links, incidents, changes, change_lead_times
--
-- One row per deployment, counted (a successful production deployment inside the window) or excluded
-- with its reason. A counted deployment failed when any of these happened, and counts once however
-- many did:
--   * an incident is linked to it (explicitly, or by the service's link window; see incident_links),
--   * the next production deployment of the service is a rollback,
--   * the next production deployment of the service is a hotfix,
--   * a change it shipped was later reverted.
-- It is rework (an unplanned fix) when it is itself a rollback or a hotfix or ships a revert.
-- Service is restored at the earliest of: the rollback, hotfix or revert reaching production, or the
-- resolution of the last incident linked to it (only once all are resolved).
WITH incident_hits AS (
    SELECT
        l.deployment_id,
        COUNT(*) AS incidents,
        SUM(CASE WHEN i.resolved_ts IS NULL THEN 1 ELSE 0 END) AS unresolved,
        MAX(i.resolved_ts) AS last_resolved_ts
    FROM incident_links l
    JOIN incidents i ON i.id = l.incident_id
    GROUP BY l.deployment_id
),
fixes AS (
    SELECT
        prev_deployment_id AS deployment_id,
        MIN(CASE WHEN is_rollback THEN deployed_ts END) AS rollback_ts,
        MIN(CASE WHEN is_hotfix THEN deployed_ts END) AS hotfix_ts,
        MAX(CASE WHEN is_rollback THEN 1 ELSE 0 END) AS rolled_back,
        MAX(CASE WHEN is_hotfix THEN 1 ELSE 0 END) AS hotfixed
    FROM deploys
    WHERE is_prod_success AND prev_deployment_id IS NOT NULL
    GROUP BY prev_deployment_id
),
reverts AS (
    SELECT original.deployment_id, COUNT(*) AS reverts, MIN(fix.deployed_ts) AS revert_ts
    FROM changes r
    JOIN change_lead_times original ON original.change_id = r.reverts_change_id
    LEFT JOIN change_lead_times fix ON fix.change_id = r.id
    WHERE r.is_revert AND original.deployment_id IS NOT NULL
    GROUP BY original.deployment_id
),
ships_revert AS (
    SELECT t.deployment_id, COUNT(*) AS reverts_shipped
    FROM change_lead_times t
    WHERE t.is_revert AND t.deployment_id IS NOT NULL
    GROUP BY t.deployment_id
),
flagged AS (
    SELECT
        d.deployment_id,
        d.service,
        d.environment,
        d.status,
        d.is_prod_success,
        d.deployed_ts,
        d.day,
        d.week,
        d.month,
        d.quarter,
        d.window,
        d.window_position,
        d.is_rollback,
        d.is_hotfix,
        COALESCE(h.incidents, 0) AS incidents,
        COALESCE(f.rolled_back, 0) = 1 AS rolled_back,
        COALESCE(f.hotfixed, 0) = 1 AS hotfixed,
        COALESCE(rv.reverts, 0) > 0 AS reverted,
        COALESCE(sr.reverts_shipped, 0) > 0 AS ships_revert,
        CASE WHEN h.incidents IS NOT NULL AND h.unresolved = 0 THEN h.last_resolved_ts END AS incidents_resolved_ts,
        f.rollback_ts,
        f.hotfix_ts,
        rv.revert_ts
    FROM deploys d
    LEFT JOIN incident_hits h ON h.deployment_id = d.deployment_id
    LEFT JOIN fixes f ON f.deployment_id = d.deployment_id
    LEFT JOIN reverts rv ON rv.deployment_id = d.deployment_id
    LEFT JOIN ships_revert sr ON sr.deployment_id = d.deployment_id
),
judged AS (
    SELECT
        *,
        incidents > 0 OR rolled_back OR hotfixed OR reverted AS is_failure,
        is_rollback OR is_hotfix OR ships_revert AS is_rework,
        LEAST(rollback_ts, hotfix_ts, revert_ts, incidents_resolved_ts) AS restored_ts
    FROM flagged
)
SELECT
    deployment_id,
    service,
    environment,
    status,
    deployed_ts,
    day,
    week,
    month,
    quarter,
    judged.window, -- qualified: WINDOW is a keyword DuckDB, PostgreSQL and others reserve
    incidents,
    rolled_back,
    hotfixed,
    reverted,
    is_failure,
    is_rework,
    CASE WHEN is_failure THEN restored_ts END AS restored_ts,
    -- A source may name a cause that finished after the incident was resolved; never go negative.
    -- (GREATEST skips empty values, so the restored check keeps an unrestored failure empty.)
    CASE WHEN is_failure AND restored_ts IS NOT NULL THEN GREATEST(restored_ts - deployed_ts, 0) END AS recovery_s,
    CASE
        WHEN status <> 'success' THEN 'deployment did not succeed'
        WHEN NOT is_prod_success AND environment = 'prerelease' THEN 'pre-release, not a production deployment'
        WHEN NOT is_prod_success THEN 'not a production deployment'
        WHEN window_position = 'before' THEN 'deployed before the window'
        WHEN window_position = 'after' THEN 'deployed after the window'
        ELSE 'counted'
    END AS reason
FROM judged
