-- name: Deployment frequency
-- unit: deployments
-- grain: period
-- requires: periods, service_weeks, deployment_outcomes
--
-- Successful production deployments per service and period, per day and per week, the days on which
-- at least one happened, and the median over whole weeks of deployment days per week.
-- Bucket: on demand when the median week has deployments on 5 or more days; daily on 3 or more;
-- weekly on 1 or more; monthly when there are at least as many deployment days as the period has
-- calendar months (`months`: each month by the share of it inside the period); else fewer.
WITH counted AS (
    SELECT * FROM deployment_outcomes WHERE reason = 'counted'
),
per_period AS (
    SELECT service, period, COUNT(*) AS deployments, COUNT(DISTINCT day) AS deployment_days
    FROM counted
    GROUP BY service, period
),
per_week AS (
    SELECT service, week, COUNT(DISTINCT day) AS days FROM counted GROUP BY service, week
),
weeks AS (
    SELECT w.service, w.period, COALESCE(k.days, 0) AS days
    FROM service_weeks w
    LEFT JOIN per_week k ON k.service = w.service AND k.week = w.week
),
weekly AS (
    SELECT service, period, MEDIAN(days) AS median_weekly_deployment_days, COUNT(*) AS whole_weeks
    FROM weeks
    GROUP BY service, period
),
joined AS (
    SELECT
        p.service,
        p.period,
        p.days,
        p.months,
        COALESCE(d.deployments, 0) AS deployments,
        COALESCE(d.deployment_days, 0) AS deployment_days,
        w.median_weekly_deployment_days,
        COALESCE(w.whole_weeks, 0) AS whole_weeks
    FROM periods p
    LEFT JOIN per_period d ON d.service = p.service AND d.period = p.period
    LEFT JOIN weekly w ON w.service = p.service AND w.period = p.period
)
SELECT
    service,
    period,
    days,
    months,
    deployments,
    deployment_days,
    deployments / days AS per_day,
    deployments * 7.0 / days AS per_week,
    deployment_days * 7.0 / days AS deployment_days_per_week,
    median_weekly_deployment_days,
    whole_weeks,
    CASE
        WHEN median_weekly_deployment_days >= 5 THEN 'on demand'
        WHEN median_weekly_deployment_days >= 3 THEN 'daily'
        WHEN median_weekly_deployment_days >= 1 THEN 'weekly'
        WHEN deployment_days >= months THEN 'monthly'
        ELSE 'fewer than monthly'
    END AS bucket
FROM joined
