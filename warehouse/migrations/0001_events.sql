-- One row per delivery. Keyed by installation first, then time, then the delivery id, so a
-- redelivered event (a Jira retry, a Kafka redelivery after a crash) has the same sorting key
-- as the first copy: ReplacingMergeTree folds them together at merge time, and the queries
-- count distinct delivery ids so a copy not yet merged changes no number either.
-- 18.16: no DateTime64 (milliseconds are kept as Int64), no TTL clause (retention drops whole
-- monthly partitions instead), no LowCardinality.
CREATE TABLE IF NOT EXISTS events (
    installation_id String,
    delivery_id String,
    source String,
    family String,
    event_type String,
    occurred_at_ms Int64,
    received_at_ms Int64,
    project_id String,
    project_key String,
    issue_id String,
    issue_key String,
    issue_type String,
    status String,
    status_category String,
    priority String,
    actor_account_id String,
    payload String,
    occurred_at DateTime MATERIALIZED toDateTime(intDiv(occurred_at_ms, 1000))
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (installation_id, occurred_at, delivery_id)
