-- name: Failed deployment recovery time
-- unit: hours
-- grain: period
-- requires: periods, deployment_outcomes
--
-- For counted deployments that failed: deployment -> service restored (see deployment_outcomes),
-- median and 75th percentile, attributed to the period of the failed deployment. Failures not yet
-- restored are counted in `unrestored` and left out of the durations.
WITH failed AS (
    SELECT * FROM deployment_outcomes WHERE reason = 'counted' AND is_failure
)
SELECT
    p.service,
    p.period,
    COUNT(f.recovery_s) AS failures,
    SUM(CASE WHEN f.deployment_id IS NOT NULL AND f.recovery_s IS NULL THEN 1 ELSE 0 END) AS unrestored,
    MEDIAN(f.recovery_s) / 3600.0 AS median_hours,
    QUANTILE_CONT(f.recovery_s, 0.75) / 3600.0 AS p75_hours
FROM periods p
LEFT JOIN failed f ON f.service = p.service AND f.period = p.period
GROUP BY p.service, p.period
