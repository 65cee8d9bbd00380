-- name: Rework rate
-- unit: ratio
-- grain: period
-- requires: periods, deployment_outcomes
--
-- Share of counted production deployments that were unplanned fixes: rollbacks, hotfixes, or
-- deployments shipping a revert (DORA 2024's fifth metric, measured from deployments).
WITH counted AS (
    SELECT * FROM deployment_outcomes WHERE reason = 'counted'
),
per_period AS (
    SELECT service, period, COUNT(*) AS deployments, SUM(CASE WHEN is_rework THEN 1 ELSE 0 END) AS rework
    FROM counted
    GROUP BY service, period
)
SELECT
    p.service,
    p.period,
    COALESCE(d.deployments, 0) AS deployments,
    COALESCE(d.rework, 0) AS rework,
    CAST(d.rework AS DOUBLE) / d.deployments AS rate
FROM periods p
LEFT JOIN per_period d ON d.service = p.service AND d.period = p.period
