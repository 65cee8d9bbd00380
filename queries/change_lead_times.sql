-- name: Lead time for changes, per change
-- unit: seconds
-- grain: record
-- requires: changes, change_commits, reviews, shipped, deploys
--
-- One row per change (pull/merge request), counted or excluded with its reason.
-- A change reaches production with the first successful production deployment of its service that
-- shipped any of its commits (its merge/squash commit or any commit it was made of), so squash,
-- rebase and merge commits all work and several changes can ride one deployment.
-- Lead time runs from the first commit (the opening time when no commit time is known) to that
-- deployment. Stages: coding = first commit -> opened; pickup = opened -> first response by someone
-- other than the author; review = first response (or opening) -> merged; deploy = merged -> live.
-- Without a recorded first commit, lead time starts at the opening and the coding stage is unknown;
-- without an opening time (git cannot tell one), coding, pickup and review are unknown.
WITH change_shas AS (
    -- Changes, deployments and commits are joined and grouped on the integer codes flowgauge puts
    -- beside their ids and shas (`change_key`; `deployment_key`, numbered in the order of the ids
    -- so that the smallest key is the smallest id; `commit_key` and `merge_commit_key`, set only for
    -- a commit some deployment shipped): the same rows as the text, at a fraction of the cost over
    -- millions of rows (docs/metrics.md, "How the computation is organised").
    -- A commit listed twice for a change (its merge commit also among its own commits) yields the
    -- same candidate twice; that changes no minimum and only `elsewhere`'s counts, which are tested
    -- for > 0, so the union keeps duplicates rather than pay a distinct over millions of pairs.
    SELECT change_key, merge_commit_key AS commit_key FROM changes WHERE merge_commit_key IS NOT NULL
    UNION ALL
    SELECT change_key, commit_key FROM change_commits
),
candidates AS (
    -- Joined from what was shipped, each deployment's commits with that deployment beside them.
    SELECT cs.change_key, d.deployment_key, d.deployed_ts, d.is_prod_success, d.is_production
    FROM shipped s
    JOIN deploys d ON d.deployment_key = s.deployment_key
    JOIN change_shas cs ON cs.commit_key = s.commit_key
    JOIN changes c ON c.change_key = cs.change_key
    WHERE c.service = d.service
),
prod_first_ts AS (
    SELECT change_key, MIN(deployed_ts) AS deployed_ts FROM candidates WHERE is_prod_success GROUP BY change_key
),
prod_first AS (
    SELECT c.change_key, MIN(c.deployment_key) AS deployment_key, MIN(c.deployed_ts) AS deployed_ts
    FROM candidates c
    JOIN prod_first_ts f ON f.change_key = c.change_key AND f.deployed_ts = c.deployed_ts
    WHERE c.is_prod_success
    GROUP BY c.change_key
),
elsewhere AS (
    SELECT
        change_key,
        SUM(CASE WHEN NOT is_production THEN 1 ELSE 0 END) AS non_production,
        SUM(CASE WHEN is_production THEN 1 ELSE 0 END) AS failed_production
    FROM candidates
    WHERE NOT is_prod_success
    GROUP BY change_key
),
others_responses AS (
    SELECT r.change_key, MIN(r.submitted_ts) AS responded_ts
    FROM reviews r
    JOIN changes c ON c.change_key = r.change_key
    WHERE r.reviewer IS NULL OR c.author IS NULL OR r.reviewer <> c.author
    GROUP BY r.change_key
),
timed AS (
    SELECT
        c.id AS change_id,
        c.service,
        c.repo,
        c.number,
        c.title,
        c.author,
        c.is_revert,
        COALESCE(c.first_commit_ts, c.created_ts) AS first_commit_ts,
        c.first_commit_ts AS recorded_first_commit_ts,
        c.created_ts,
        LEAST(c.first_review_ts, o.responded_ts) AS first_response_ts,
        c.merged_ts,
        d.deployment_id,
        pf.deployed_ts,
        e.non_production,
        e.failed_production,
        d.is_first AS by_first_deployment,
        d.baseline_ts,
        d.window_position,
        d.week,
        d.month,
        d.quarter,
        d.window
    FROM changes c
    LEFT JOIN others_responses o ON o.change_key = c.change_key
    LEFT JOIN prod_first pf ON pf.change_key = c.change_key
    LEFT JOIN deploys d ON d.deployment_key = pf.deployment_key
    LEFT JOIN elsewhere e ON e.change_key = c.change_key
)
SELECT
    change_id,
    service,
    repo,
    number,
    title,
    author,
    is_revert,
    first_commit_ts,
    created_ts,
    first_response_ts,
    merged_ts,
    deployment_id,
    deployed_ts,
    week,
    month,
    quarter,
    timed.window, -- qualified: WINDOW is a keyword DuckDB, PostgreSQL and others reserve
    deployed_ts - first_commit_ts AS lead_time_s,
    -- Stages are clamped at zero (a draft opened before its first commit has no coding time) and
    -- stay empty when an end is unknown: GREATEST alone would turn an empty value into zero.
    CASE WHEN recorded_first_commit_ts IS NOT NULL AND created_ts IS NOT NULL
        THEN GREATEST(created_ts - recorded_first_commit_ts, 0) END AS coding_s,
    CASE WHEN first_response_ts IS NOT NULL AND created_ts IS NOT NULL
        THEN GREATEST(first_response_ts - created_ts, 0) END AS pickup_s,
    CASE WHEN merged_ts IS NOT NULL AND COALESCE(first_response_ts, created_ts) IS NOT NULL
        THEN GREATEST(merged_ts - COALESCE(first_response_ts, created_ts), 0) END AS review_s,
    CASE WHEN merged_ts IS NOT NULL AND deployed_ts IS NOT NULL THEN GREATEST(deployed_ts - merged_ts, 0) END AS deploy_s,
    CASE
        WHEN first_commit_ts IS NULL THEN 'no start time (neither first commit nor opening known)'
        WHEN merged_ts IS NULL AND deployment_id IS NULL THEN 'not merged'
        WHEN deployment_id IS NULL AND non_production > 0 THEN 'deployed only outside production'
        WHEN deployment_id IS NULL AND failed_production > 0 THEN 'only in production deployments that did not succeed'
        WHEN deployment_id IS NULL THEN 'never deployed to production'
        WHEN by_first_deployment AND COALESCE(merged_ts, first_commit_ts) < baseline_ts
            THEN 'shipped by the first observed deployment, merged before its look-back'
        WHEN window_position = 'before' THEN 'deployed before the window'
        WHEN window_position = 'after' THEN 'deployed after the window'
        WHEN deployed_ts - first_commit_ts <= 0 THEN 'first commit is not before the deployment'
        ELSE 'counted'
    END AS reason
FROM timed
