-- Why an event's `occurred_at_ms` is not the payload's own `timestamp`: empty when it is;
-- `missing`, `too_old` or `in_future` when the receipt time stands in (the payload keeps the
-- original). Bounding event times keeps one workspace's wild clock from spreading a batch over
-- more monthly partitions than ClickHouse takes in one insert, and from landing rows where
-- retention drops them at once.
-- 18.16 has no ADD COLUMN IF NOT EXISTS: the migration runner skips this one when the column
-- is already there.
ALTER TABLE events ADD COLUMN occurred_at_note String DEFAULT ''
