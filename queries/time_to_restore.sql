-- name: Time to restore service
-- unit: hours
-- grain: period
-- requires: periods, incident_restores
--
-- For incidents opened in the period and restored: opened -> restored (mitigated_at when the
-- tracker records mitigation, else resolved_at; incident_restores.restore_basis says which), median,
-- 75th and 90th percentile. Includes incidents no deployment caused; those with neither time are
-- counted in `open`.
WITH inside AS (
    SELECT * FROM incident_restores WHERE reason IN ('counted', 'not resolved yet')
)
SELECT
    p.service,
    p.period,
    COUNT(i.restore_s) AS incidents,
    SUM(CASE WHEN i.incident_id IS NOT NULL AND i.restore_s IS NULL THEN 1 ELSE 0 END) AS open,
    MEDIAN(i.restore_s) / 3600.0 AS median_hours,
    QUANTILE_CONT(i.restore_s, 0.75) / 3600.0 AS p75_hours,
    QUANTILE_CONT(i.restore_s, 0.90) / 3600.0 AS p90_hours
FROM periods p
LEFT JOIN inside i ON i.service = p.service AND i.period = p.period
GROUP BY p.service, p.period
