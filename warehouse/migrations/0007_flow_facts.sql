-- The flow metrics' facts, kept per issue by the pipeline (`warehouse::flow::refresh`) each time
-- it stores a delivery of that issue, so a flow view aggregates narrow rows in ClickHouse instead
-- of rebuilding every issue's history per request. Each refresh recomputes the issue's whole
-- history from `issue_timeline` (so a late or repeated delivery gives the same facts as an
-- orderly stream) and writes every fact of the issue again under a higher `version`; a fact the
-- new history no longer has is written once more with `live = 0`. Queries read the newest
-- version of each key (FINAL) and keep the live ones. Keyed by issue, so a refresh finds an
-- issue's facts at once. Statements are separated by `;` at a line's end.

-- Each stretch of time an issue spent in one status, with the cycle it belongs to.
CREATE TABLE IF NOT EXISTS flow_segments (
    installation_id String,
    issue_id String,
    ordinal UInt32,
    version UInt64,
    live UInt8,
    issue_key String,
    project_key String,
    issue_type String,
    priority String,
    status String,
    status_category String,
    -- When the issue moved into the status; -1 when that predates the first delivery we saw.
    start_ms Int64,
    -- From when we know the issue was in it: the start, or the first delivery we saw.
    seen_from_ms Int64,
    -- The next segment's start or the issue's deletion; the largest Int64 while it lasts.
    end_ms Int64,
    -- The start of the cycle this in-progress segment belongs to: -1 unseen, -2 none.
    cycle_start_ms Int64,
    -- Time in progress in that cycle before this segment.
    cycle_spent_before_ms Int64,
    -- How many of the issue's segments are in this status: at 1 (most), its time in the status
    -- is this segment's, and time in status needs no grouping by issue.
    status_visits UInt32
) ENGINE = ReplacingMergeTree(version)
ORDER BY (installation_id, issue_id, ordinal);

-- Each move into done we saw, with its cycle and lead time.
CREATE TABLE IF NOT EXISTS flow_completions (
    installation_id String,
    issue_id String,
    done_ms Int64,
    version UInt64,
    live UInt8,
    issue_key String,
    project_key String,
    issue_type String,
    priority String,
    -- -1: the cycle started before the first delivery we saw; -2: no time in progress.
    cycle_ms Int64,
    -- -1: the issue was created before the connection.
    lead_ms Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (installation_id, issue_id, done_ms);

-- The status category of each status name per installation, as deliveries state it: where an
-- issue first seen mid-flight came from, a change's row names only the status.
CREATE TABLE IF NOT EXISTS status_categories (
    installation_id String,
    status String,
    status_category String
) ENGINE = ReplacingMergeTree()
ORDER BY (installation_id, status);

-- One row per status a block of events names (LIMIT BY, not GROUP BY: an aggregate's alias
-- would shadow the column the filter reads).
CREATE MATERIALIZED VIEW IF NOT EXISTS status_categories_from_events TO status_categories AS
SELECT installation_id, status, status_category
FROM events
WHERE status != '' AND status_category != ''
LIMIT 1 BY installation_id, status;

INSERT INTO status_categories
SELECT installation_id, status, status_category
FROM events
WHERE status != '' AND status_category != ''
LIMIT 1 BY installation_id, status;
