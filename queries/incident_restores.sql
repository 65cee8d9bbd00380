-- name: Time to restore service, per incident
-- unit: seconds
-- grain: record
-- requires: incidents, incident_links
--
-- One row per incident, whether or not any deployment caused it: opened -> restored, where
-- restored is when the impact ended (mitigated_at) when the tracker records it, else when the
-- incident was resolved; restore_basis says which ('mitigation' or 'resolution').
-- Counted when it was opened inside the window and has been restored.
SELECT
    i.id AS incident_id,
    i.service,
    i.title,
    i.severity,
    i.opened_ts,
    i.resolved_ts,
    i.mitigated_ts,
    COALESCE(i.mitigated_ts, i.resolved_ts) AS restored_ts,
    CASE
        WHEN i.mitigated_ts IS NOT NULL THEN 'mitigation'
        WHEN i.resolved_ts IS NOT NULL THEN 'resolution'
    END AS restore_basis,
    l.deployment_id AS caused_by_deployment_id,
    l.link,
    i.week,
    i.month,
    i.quarter,
    i.window,
    COALESCE(i.mitigated_ts, i.resolved_ts) - i.opened_ts AS restore_s,
    CASE
        WHEN i.window_position = 'before' THEN 'opened before the window'
        WHEN i.window_position = 'after' THEN 'opened after the window'
        WHEN i.mitigated_ts IS NULL AND i.resolved_ts IS NULL THEN 'not resolved yet'
        ELSE 'counted'
    END AS reason
FROM incidents i
LEFT JOIN incident_links l ON l.incident_id = i.id
