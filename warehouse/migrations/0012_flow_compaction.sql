-- Compacted flow facts (`warehouse::flow::compaction`). The facts tables keep every version of
-- an issue's facts until merges fold them, so a view read them with FINAL, which merged a
-- tenant's whole history at every view (4-5 s at 10 million events). Now a job merges both
-- tables whole (OPTIMIZE ... FINAL) and records when it started once no older part is left;
-- after that, every issue not refreshed since has one row per key, which a view reads without
-- FINAL and filters by time first. Only the issues refreshed since are read with FINAL.
-- Statements are separated by `;` at a line's end.

-- The issues each refresh wrote (or found current), stamped by ClickHouse's clock after their
-- facts were inserted, so an issue whose facts landed after a compaction began is stamped at
-- or after its start. Partitioned by day: the compaction drops the days before its start.
CREATE TABLE IF NOT EXISTS flow_refreshes (
    installation_id String,
    issue_id String,
    refreshed_at DateTime DEFAULT now()
) ENGINE = MergeTree()
PARTITION BY toDate(refreshed_at)
ORDER BY (installation_id, refreshed_at, issue_id);

-- Each compaction that left no part older than its start.
CREATE TABLE IF NOT EXISTS flow_compactions (
    started_at DateTime,
    finished_at DateTime
) ENGINE = MergeTree()
ORDER BY started_at;
