-- Rollups behind the weekly-rates and trends views, so a view reads thousands of pre-grouped
-- rows instead of every raw row of a tenant. Materialized views fire once per inserted block,
-- so a delivery inserted twice reaches a rollup twice: every rollup here is built so that a
-- second copy changes no number (sets of delivery ids, minimums, or rows the queries dedupe).
-- Each view is created before its backfill, whose SELECT is the view's word for word; a row
-- inserted meanwhile may reach a rollup through both, which for the same reason changes nothing. Statements are separated by `;` at a line's
-- end (the migration runner sends them one by one).
-- 18.16: no TTL (retention drops monthly partitions), no SimpleAggregateFunction, no
-- insert_deduplication_token; all of it runs unchanged on a current LTS.

-- Distinct deliveries (or changelog items) per UTC hour, kind, project and issue type. Kinds:
-- the weekly-rates kinds (`issue_created`, `issue_updated`, `issue_deleted`, `comment_created`,
-- `issue_resolved`, `transition_<category>`) and the trend kinds (`resolved`, `reopened`,
-- `field:<name>`, counted per changelog item). Hours, not days: a viewer's week starts at
-- midnight in their zone, which is a whole UTC hour for every whole-hour zone; the queries read
-- raw rows for the few hours that a boundary cuts. `uniqExactState` keeps the set of ids, so a
-- copy of a delivery in another block or part adds nothing when the sets are merged. `kind`
-- precedes `hour` in the key so each view reads only its own kinds.
CREATE TABLE IF NOT EXISTS activity_hourly (
    installation_id String,
    kind String,
    hour DateTime,
    project_key String,
    issue_type String,
    deliveries AggregateFunction(uniqExact, String, UInt16)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (installation_id, kind, hour, project_key, issue_type);

CREATE MATERIALIZED VIEW IF NOT EXISTS activity_hourly_from_events TO activity_hourly AS
SELECT installation_id, event_type AS kind,
       toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       project_key, issue_type,
       uniqExactState(delivery_id, toUInt16(0)) AS deliveries
FROM events
WHERE event_type IN ('issue_created', 'issue_updated', 'issue_deleted', 'comment_created')
GROUP BY installation_id, kind, hour, project_key, issue_type;

-- Per changelog item up to three kinds: the delivery resolved an issue (weekly rates, once per
-- delivery), the item's trend kind (per item), the delivery moved the issue's status.
CREATE MATERIALIZED VIEW IF NOT EXISTS activity_hourly_from_field_changes TO activity_hourly AS
SELECT installation_id, tupleElement(item, 1) AS kind,
       toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       project_key, issue_type,
       uniqExactState(delivery_id, tupleElement(item, 2)) AS deliveries
FROM field_changes
ARRAY JOIN arrayFilter(k -> tupleElement(k, 1) != '', [
    tuple(if(field = 'resolution' AND from_value = '' AND to_value != '', 'issue_resolved', ''),
          toUInt16(0)),
    tuple(multiIf(field = 'resolution' AND from_value = '' AND to_value != '', 'resolved',
                  field = 'resolution' AND from_value != '' AND to_value = '', 'reopened',
                  concat('field:', field)),
          item_index),
    tuple(if(field = 'status' AND status_category != '', concat('transition_', status_category), ''),
          toUInt16(0))
]) AS item
GROUP BY installation_id, kind, hour, project_key, issue_type;

INSERT INTO activity_hourly
SELECT installation_id, event_type AS kind,
       toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       project_key, issue_type,
       uniqExactState(delivery_id, toUInt16(0)) AS deliveries
FROM events
WHERE event_type IN ('issue_created', 'issue_updated', 'issue_deleted', 'comment_created')
GROUP BY installation_id, kind, hour, project_key, issue_type;

INSERT INTO activity_hourly
SELECT installation_id, tupleElement(item, 1) AS kind,
       toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       project_key, issue_type,
       uniqExactState(delivery_id, tupleElement(item, 2)) AS deliveries
FROM field_changes
ARRAY JOIN arrayFilter(k -> tupleElement(k, 1) != '', [
    tuple(if(field = 'resolution' AND from_value = '' AND to_value != '', 'issue_resolved', ''),
          toUInt16(0)),
    tuple(multiIf(field = 'resolution' AND from_value = '' AND to_value != '', 'resolved',
                  field = 'resolution' AND from_value != '' AND to_value = '', 'reopened',
                  concat('field:', field)),
          item_index),
    tuple(if(field = 'status' AND status_category != '', concat('transition_', status_category), ''),
          toUInt16(0))
]) AS item
GROUP BY installation_id, kind, hour, project_key, issue_type;

-- Rows written before `status_category` existed have it empty: their transitions come from the
-- events they belong to.
INSERT INTO activity_hourly
SELECT installation_id, concat('transition_', status_category) AS kind,
       toStartOfHour(toDateTime(intDiv(occurred_at_ms, 1000))) AS hour,
       project_key, issue_type,
       uniqExactState(delivery_id, toUInt16(0)) AS deliveries
FROM events
WHERE status_category != ''
  AND (installation_id, delivery_id) IN (
      SELECT installation_id, delivery_id FROM field_changes WHERE field = 'status')
GROUP BY installation_id, kind, hour, project_key, issue_type;

-- Resolutions (an empty resolution set), one row per changelog item, for the median time to
-- resolution: a narrow copy of the few `field_changes` rows it needs, with the columns the
-- views' scope filter reads. A copy of a delivery is folded at merge time and, until then,
-- grouped away by the query.
CREATE TABLE IF NOT EXISTS resolutions (
    installation_id String,
    occurred_at DateTime,
    delivery_id String,
    item_index UInt16,
    occurred_at_ms Int64,
    issue_id String,
    project_key String,
    issue_type String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (installation_id, occurred_at, delivery_id, item_index);

CREATE MATERIALIZED VIEW IF NOT EXISTS resolutions_from_field_changes TO resolutions AS
SELECT installation_id, toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at, delivery_id,
       item_index, occurred_at_ms, issue_id, project_key, issue_type
FROM field_changes
WHERE field = 'resolution' AND from_value = '' AND to_value != '';

INSERT INTO resolutions
SELECT installation_id, toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at, delivery_id,
       item_index, occurred_at_ms, issue_id, project_key, issue_type
FROM field_changes
WHERE field = 'resolution' AND from_value = '' AND to_value != '';

-- When each issue was created, keyed by issue so the median looks up only the issues it needs
-- instead of reading every creation of the tenant. Queries take the minimum, which a copy
-- cannot change.
CREATE TABLE IF NOT EXISTS issue_creations (
    installation_id String,
    issue_id String,
    created_ms Int64,
    created_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(created_at)
ORDER BY (installation_id, issue_id, created_ms);

CREATE MATERIALIZED VIEW IF NOT EXISTS issue_creations_from_events TO issue_creations AS
SELECT installation_id, issue_id, occurred_at_ms AS created_ms,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS created_at
FROM events
WHERE event_type = 'issue_created';

INSERT INTO issue_creations
SELECT installation_id, issue_id, occurred_at_ms AS created_ms,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS created_at
FROM events
WHERE event_type = 'issue_created';

-- The first event of each installation (any kind), per month, for the days of data behind a
-- week: the minimum of a month's rows, which a copy cannot change.
CREATE TABLE IF NOT EXISTS first_events (
    installation_id String,
    month Date,
    first_ms AggregateFunction(min, Int64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY installation_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS first_events_from_events TO first_events AS
SELECT installation_id, toStartOfMonth(toDateTime(intDiv(occurred_at_ms, 1000))) AS month,
       minState(occurred_at_ms) AS first_ms
FROM events
GROUP BY installation_id, month;

INSERT INTO first_events
SELECT installation_id, toStartOfMonth(toDateTime(intDiv(occurred_at_ms, 1000))) AS month,
       minState(occurred_at_ms) AS first_ms
FROM events
GROUP BY installation_id, month;
