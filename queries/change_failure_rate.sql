-- name: Change failure rate
-- unit: ratio
-- grain: period
-- requires: periods, deployment_outcomes
--
-- Share of counted production deployments that caused a failure (see deployment_outcomes). A
-- deployment counts once however many incidents it caused, so the rate never exceeds 1.
WITH counted AS (
    SELECT * FROM deployment_outcomes WHERE reason = 'counted'
),
per_period AS (
    SELECT
        service,
        period,
        COUNT(*) AS deployments,
        SUM(CASE WHEN is_failure THEN 1 ELSE 0 END) AS failed,
        SUM(CASE WHEN incidents > 0 THEN 1 ELSE 0 END) AS with_incident,
        SUM(CASE WHEN rolled_back THEN 1 ELSE 0 END) AS rolled_back,
        SUM(CASE WHEN hotfixed THEN 1 ELSE 0 END) AS hotfixed,
        SUM(CASE WHEN reverted THEN 1 ELSE 0 END) AS reverted
    FROM counted
    GROUP BY service, period
)
SELECT
    p.service,
    p.period,
    COALESCE(d.deployments, 0) AS deployments,
    COALESCE(d.failed, 0) AS failed,
    COALESCE(d.with_incident, 0) AS with_incident,
    COALESCE(d.rolled_back, 0) AS rolled_back,
    COALESCE(d.hotfixed, 0) AS hotfixed,
    COALESCE(d.reverted, 0) AS reverted,
    CAST(d.failed AS DOUBLE) / d.deployments AS rate
FROM periods p
LEFT JOIN per_period d ON d.service = p.service AND d.period = p.period
