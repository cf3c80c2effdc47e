-- Snapshots of the flow facts (`warehouse::flow::compaction`), replacing migration 12's merges.
-- A compaction copies the live facts, newest version of each key (FINAL), into these tables
-- under a new snapshot id, and counts from that copy what the views would otherwise count
-- from every fact at every view (the status changes per hour below). A copy never changes, so
-- a view can take an issue's share of the counts away again: an issue refreshed since the
-- snapshot began (stamped in `flow_refreshes`) is counted from its current facts instead,
-- every other issue from the snapshot. Each table is partitioned by the snapshot, so a
-- compaction drops the snapshots before the previous one whole. Migration 12's merges and its
-- `flow_compactions` are no longer used: a snapshot is read only once it is recorded in
-- `flow_snapshots`. Statements are separated by `;` at a line's end.

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
PARTITION BY snapshot
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
PARTITION BY snapshot
ORDER BY (installation_id, issue_id, done_ms);

-- Where issues stood, as changes per UTC hour of a snapshot's segments: +1 in the hour a
-- segment is first known (`seen_from_ms`), -1 in the hour it ended, so the count at a whole
-- hour is the sum of the changes in the hours before it. A segment in done counts only when
-- it began within the view's range: `began` is the hour it began (1970 when unseen), for the
-- views to test. The cumulative flow of a whole-hour zone adds these up per day instead of
-- reading every segment.
CREATE TABLE IF NOT EXISTS flow_status_changes (
    snapshot UInt64,
    installation_id String,
    hour DateTime,
    project_key String,
    issue_type String,
    status_category String,
    status String,
    began DateTime,
    change Int64
) ENGINE = MergeTree()
PARTITION BY snapshot
ORDER BY (installation_id, hour, project_key, issue_type, status_category, status);

-- The newest change (in milliseconds) among each installation's segments in a snapshot: a
-- view that ends after it adds the changes of the hour it ends in whole; one that ends before
-- it (a change dated ahead of the clock) reads that hour's segments one by one.
CREATE TABLE IF NOT EXISTS flow_snapshot_latest (
    snapshot UInt64,
    installation_id String,
    latest_ms Int64
) ENGINE = MergeTree()
PARTITION BY snapshot
ORDER BY installation_id;

-- Each snapshot whose copies and counts are complete, with the second its copy began.
-- Partitioned by day, so a compaction drops the days before yesterday's as it does the stamps'.
CREATE TABLE IF NOT EXISTS flow_snapshots (
    snapshot UInt64,
    started_at DateTime,
    finished_at DateTime
) ENGINE = MergeTree()
PARTITION BY toDate(started_at)
ORDER BY snapshot;
