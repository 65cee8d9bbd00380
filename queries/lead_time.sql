-- name: Lead time for changes
-- unit: hours
-- grain: period
-- requires: periods, change_lead_times
--
-- Median, 75th and 90th percentile (linear interpolation) of lead time over the changes counted in
-- change_lead_times, attributed to the period of the deployment that shipped them; median of each stage.
WITH counted AS (
    SELECT * FROM change_lead_times WHERE reason = 'counted'
)
SELECT
    p.service,
    p.period,
    COUNT(c.change_id) AS changes,
    MEDIAN(c.lead_time_s) / 3600.0 AS median_hours,
    QUANTILE_CONT(c.lead_time_s, 0.75) / 3600.0 AS p75_hours,
    QUANTILE_CONT(c.lead_time_s, 0.90) / 3600.0 AS p90_hours,
    MEDIAN(c.coding_s) / 3600.0 AS coding_median_hours,
    MEDIAN(c.pickup_s) / 3600.0 AS pickup_median_hours,
    MEDIAN(c.review_s) / 3600.0 AS review_median_hours,
    MEDIAN(c.deploy_s) / 3600.0 AS deploy_median_hours,
    QUANTILE_CONT(c.coding_s, 0.75) / 3600.0 AS coding_p75_hours,
    QUANTILE_CONT(c.pickup_s, 0.75) / 3600.0 AS pickup_p75_hours,
    QUANTILE_CONT(c.review_s, 0.75) / 3600.0 AS review_p75_hours,
    QUANTILE_CONT(c.deploy_s, 0.75) / 3600.0 AS deploy_p75_hours
FROM periods p
LEFT JOIN counted c ON c.service = p.service AND c.period = p.period
GROUP BY p.service, p.period
