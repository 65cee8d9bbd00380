-- name: Time to restore service, per incident
-- unit: seconds
-- grain: record
-- requires: incidents, incident_links
--
-- One row per incident, whether or not any deployment caused it: opened -> resolved.
-- Counted when it was opened inside the window and has been resolved.
SELECT
    i.id AS incident_id,
    i.service,
    i.title,
    i.severity,
    i.opened_ts,
    i.resolved_ts,
    l.deployment_id AS caused_by_deployment_id,
    l.link,
    i.week,
    i.month,
    i.quarter,
    i.window,
    i.resolved_ts - i.opened_ts AS restore_s,
    CASE
        WHEN i.window_position = 'before' THEN 'opened before the window'
        WHEN i.window_position = 'after' THEN 'opened after the window'
        WHEN i.resolved_ts IS NULL THEN 'not resolved yet'
        ELSE 'counted'
    END AS reason
FROM incidents i
LEFT JOIN incident_links l ON l.incident_id = i.id
