-- Sprints and worklogs, read out of their deliveries by the pipeline (the payload's `sprint` and
-- `worklog`), for the sprint and time-logged views. Sprint membership is Jira's changelog items
-- with field `Sprint` (comma-separated sprint ids), already in `field_changes`: copied into the
-- narrow `sprint_moves` by a materialized view (and backfilled), so the sprint view reads a
-- tenant's few sprint moves instead of every field change. Every table here is partitioned by
-- month like `events`, so retention drops them together. Statements are separated by `;` at a
-- line's end.

-- One row per sprint delivery (created, updated, started, closed, deleted). A copy of a delivery
-- has the same key and is folded at merge time; queries take one row per key until then.
-- Dates the payload lacks are -1.
CREATE TABLE IF NOT EXISTS sprints (
    installation_id String,
    sprint_id String,
    occurred_at_ms Int64,
    delivery_id String,
    event_type String,
    board_id String,
    name String,
    state String,
    start_ms Int64,
    end_ms Int64,
    complete_ms Int64,
    occurred_at DateTime MATERIALIZED toDateTime(intDiv(occurred_at_ms, 1000))
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (installation_id, sprint_id, occurred_at_ms, delivery_id);

-- One row per worklog delivery; the newest `version` of a worklog is its state (a deletion is
-- the newest row with `deleted = 1`). The version orders by the delivery's event time, then by
-- kind (created < updated < deleted), so the order deliveries arrive in changes nothing;
-- queries take the newest row per worklog (`LIMIT 1 BY`) and never rely on merges.
CREATE TABLE IF NOT EXISTS worklogs (
    installation_id String,
    worklog_id String,
    version UInt64,
    delivery_id String,
    occurred_at_ms Int64,
    event_type String,
    issue_id String,
    author_account_id String,
    started_ms Int64,
    time_spent_seconds Int64,
    deleted UInt8,
    occurred_at DateTime MATERIALIZED toDateTime(intDiv(occurred_at_ms, 1000))
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (installation_id, worklog_id, version, delivery_id);

-- Each `Sprint` changelog item, keyed like `field_changes`: a copy of a delivery (or the backfill
-- running again, or copying what the view already copied) is the same key, folded at merge time
-- and taken once by the query (`LIMIT 1 BY`) until then.
CREATE TABLE IF NOT EXISTS sprint_moves (
    installation_id String,
    occurred_at_ms Int64,
    delivery_id String,
    item_index UInt16,
    issue_id String,
    issue_key String,
    project_key String,
    issue_type String,
    from_value String,
    to_value String,
    occurred_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (installation_id, occurred_at_ms, delivery_id, item_index);

CREATE MATERIALIZED VIEW IF NOT EXISTS sprint_moves_from_field_changes TO sprint_moves AS
SELECT installation_id, occurred_at_ms, delivery_id, item_index, issue_id, issue_key, project_key,
       issue_type, from_value, to_value, toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at
FROM field_changes
WHERE field = 'Sprint' AND issue_id != '';

INSERT INTO sprint_moves
SELECT installation_id, occurred_at_ms, delivery_id, item_index, issue_id, issue_key, project_key,
       issue_type, from_value, to_value, toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at
FROM field_changes
WHERE field = 'Sprint' AND issue_id != '';
