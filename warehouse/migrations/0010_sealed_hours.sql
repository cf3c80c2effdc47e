-- Sealed hours: the hourly rollup's counts (and the resolutions' times) as plain numbers, for
-- hours no delivery has reached since they were counted. `activity_hourly` keeps each hour's set of delivery ids so that a
-- copy of a delivery changes no number; merging those sets is what a view over a large tenant
-- spends its time on (about 0.6 s for 12 weeks of 10 million events). Once an hour is quiet,
-- its sets are counted once (`crate::sealing`, run by every pipeline) and a view adds numbers
-- instead. Every delivery marks its hour as touched; a seal counts only while it is newer than
-- the hour's last touch, so a late or replayed delivery sends its hour back to the sets until
-- it is sealed again. Partitioned like the rollup, so retention drops a month of all of them.
-- Statements are separated by `;` at a line's end.

-- When a delivery last reached each hour, by ClickHouse's clock (`now()` when the rows were
-- inserted). A seal is compared with this, never with our own clocks.
CREATE TABLE IF NOT EXISTS activity_hours_touched (
    installation_id String,
    hour DateTime,
    touched_at DateTime
) ENGINE = ReplacingMergeTree(touched_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (installation_id, hour);

-- Both raw tables feed the rollup, so both mark the hours they reach.
CREATE MATERIALIZED VIEW IF NOT EXISTS activity_hours_touched_from_events TO activity_hours_touched AS
SELECT installation_id, toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       now() AS touched_at
FROM events
GROUP BY installation_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS activity_hours_touched_from_field_changes TO activity_hours_touched AS
SELECT installation_id, toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       now() AS touched_at
FROM field_changes
GROUP BY installation_id, hour;

-- `activity_hourly`'s rows counted: one version per seal, the newest kept at merge time. A seal's
-- counts are written before its row in `activity_hour_seals`, so a seal that is visible has all
-- of its counts visible.
CREATE TABLE IF NOT EXISTS activity_hourly_sealed (
    installation_id String,
    kind String,
    hour DateTime,
    project_key String,
    issue_type String,
    deliveries UInt64,
    sealed_at DateTime
) ENGINE = ReplacingMergeTree(sealed_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (installation_id, kind, hour, project_key, issue_type);

-- For each sealed hour, the time from each resolution's issue's earliest creation to the
-- resolution, so the trends' median adds an hour's numbers instead of joining a tenant's
-- creations (a million for 10 million events) at every view. Written with the hour's counts,
-- before its seal. A creation can arrive after the resolutions of its issue were sealed (it
-- touches its own hour, not theirs): a resolution whose creation was not stored at the seal is
-- kept by issue and time, and a view looks its creation up again.
CREATE TABLE IF NOT EXISTS resolution_times_sealed (
    installation_id String,
    hour DateTime,
    project_key String,
    issue_type String,
    -- Milliseconds from creation to resolution, for the resolutions whose creation was stored
    -- and not later than the resolution (the views skip the others, as before).
    durations_ms Array(Int64),
    -- The resolutions whose creation was not stored at the seal: their issues and times.
    unseen_issue_ids Array(String),
    unseen_resolved_ms Array(Int64),
    sealed_at DateTime
) ENGINE = ReplacingMergeTree(sealed_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (installation_id, hour, project_key, issue_type);

-- When each hour was last sealed: ClickHouse's `now()` less the quiet margin, read before its
-- sets were counted.
CREATE TABLE IF NOT EXISTS activity_hour_seals (
    installation_id String,
    hour DateTime,
    sealed_at DateTime
) ENGINE = ReplacingMergeTree(sealed_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (installation_id, hour);

-- Every hour already stored is touched now, so the pipelines seal it.
INSERT INTO activity_hours_touched
SELECT installation_id, toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       now() AS touched_at
FROM events
GROUP BY installation_id, hour;

INSERT INTO activity_hours_touched
SELECT installation_id, toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       now() AS touched_at
FROM field_changes
GROUP BY installation_id, hour;
