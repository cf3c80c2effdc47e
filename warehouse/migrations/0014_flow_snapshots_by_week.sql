-- The snapshot tables of migration 13 again, each snapshot now partitioned by the week its rows
-- end in (a segment's end, a completion's done moment; an open segment's end is far ahead, a
-- partition of its own), so a view over the last twelve weeks of a tenant with half a year of
-- history reads only the weeks it shows: ClickHouse skips a part whose ends all lie outside the
-- range. Within a week the rows stay in issue order, for the views' lookups of refreshed issues.
-- A week is 604,800,000 ms from the epoch, Thursday to Thursday: partitions are for skipping,
-- not for the views' weeks.
--
-- A snapshot is a copy, made again at every compaction, so the tables are dropped and made
-- anew rather than copied: first the records go, so no view reads a snapshot whose rows went
-- (views read every fact with FINAL until the next compaction records one), then the tables.
-- Statements are separated by `;` at a line's end.

TRUNCATE TABLE IF EXISTS flow_snapshots;

DROP TABLE IF EXISTS flow_segments_snapshot;

DROP TABLE IF EXISTS flow_completions_snapshot;

CREATE TABLE IF NOT EXISTS flow_segments_snapshot (
    snapshot UInt64,
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
    start_ms Int64,
    seen_from_ms Int64,
    end_ms Int64,
    cycle_start_ms Int64,
    cycle_spent_before_ms Int64,
    status_visits UInt32,
    assignee_account_id String,
    assignee_name String,
    labels Array(String),
    components Array(String)
) ENGINE = MergeTree()
PARTITION BY (snapshot, intDiv(end_ms, 604800000))
ORDER BY (installation_id, issue_id, ordinal);

CREATE TABLE IF NOT EXISTS flow_completions_snapshot (
    snapshot UInt64,
    installation_id String,
    issue_id String,
    done_ms Int64,
    version UInt64,
    live UInt8,
    issue_key String,
    project_key String,
    issue_type String,
    priority String,
    cycle_ms Int64,
    lead_ms Int64,
    assignee_account_id String,
    assignee_name String,
    labels Array(String),
    components Array(String)
) ENGINE = MergeTree()
PARTITION BY (snapshot, intDiv(done_ms, 604800000))
ORDER BY (installation_id, issue_id, done_ms);
