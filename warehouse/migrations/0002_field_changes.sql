-- One row per changelog item of an issue update, keyed like `events` plus the item's position.
CREATE TABLE IF NOT EXISTS field_changes (
    installation_id String,
    delivery_id String,
    item_index UInt16,
    occurred_at_ms Int64,
    project_key String,
    issue_id String,
    issue_key String,
    issue_type String,
    field String,
    field_id String,
    from_value String,
    to_value String,
    from_string String,
    to_string String,
    occurred_at DateTime MATERIALIZED toDateTime(intDiv(occurred_at_ms, 1000))
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (installation_id, occurred_at, delivery_id, item_index)
