-- Each issue's history, keyed by issue, for the flow metrics (cycle and lead time, work item
-- age, cumulative flow, time in status): a narrow copy of the few columns they need, so a view
-- reads one tenant's issues in key order instead of every raw row. Two kinds of row per
-- delivery: `state` (kind 0), the issue as any delivery that names its status left it (an
-- update, a creation, a deletion, a comment), from `events`; and `move`
-- (kind 1), a status change with the status it came from, from `field_changes` — the only way to
-- know where an issue that predates the connection stood before the first delivery we saw. A
-- copy of a delivery has the same key and is folded at merge time, and grouped away by the
-- query until then. Empty texts are written `CAST('' AS String)`, not `''`: 18.16 names a
-- constant column by its text, and reading a part written before `status_category` existed
-- brings its default `''` as a column of the same name ("Column '''' already exists").
-- Statements are separated by `;` at a line's end.

CREATE TABLE IF NOT EXISTS issue_timeline (
    installation_id String,
    issue_id String,
    occurred_at_ms Int64,
    delivery_id String,
    kind UInt8,
    item_index UInt16,
    event_type String,
    project_key String,
    issue_key String,
    issue_type String,
    priority String,
    status String,
    status_category String,
    from_status String,
    occurred_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (installation_id, issue_id, occurred_at_ms, delivery_id, kind, item_index);

CREATE MATERIALIZED VIEW IF NOT EXISTS issue_timeline_from_events TO issue_timeline AS
SELECT installation_id, issue_id, occurred_at_ms, delivery_id, toUInt8(0) AS kind,
       toUInt16(0) AS item_index, event_type, project_key, issue_key, issue_type, priority, status,
       status_category, CAST('' AS String) AS from_status,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at
FROM events
WHERE issue_id != '' AND status != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS issue_timeline_from_field_changes TO issue_timeline AS
SELECT installation_id, issue_id, occurred_at_ms, delivery_id, toUInt8(1) AS kind,
       item_index, 'status_changed' AS event_type, project_key, issue_key, issue_type,
       CAST('' AS String) AS priority, to_string AS status, status_category, from_string AS from_status,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at
FROM field_changes
WHERE field = 'status' AND issue_id != '';

INSERT INTO issue_timeline
SELECT installation_id, issue_id, occurred_at_ms, delivery_id, toUInt8(0) AS kind,
       toUInt16(0) AS item_index, event_type, project_key, issue_key, issue_type, priority, status,
       status_category, CAST('' AS String) AS from_status,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at
FROM events
WHERE issue_id != '' AND status != '';

INSERT INTO issue_timeline
SELECT installation_id, issue_id, occurred_at_ms, delivery_id, toUInt8(1) AS kind,
       item_index, 'status_changed' AS event_type, project_key, issue_key, issue_type,
       CAST('' AS String) AS priority, to_string AS status, status_category, from_string AS from_status,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at
FROM field_changes
WHERE field = 'status' AND issue_id != '';
