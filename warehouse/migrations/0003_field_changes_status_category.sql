-- The status category the issue has after the update (the event's), on each changelog item:
-- lets a materialized view on `field_changes` alone count transitions into each category.
-- 18.16 has no ADD COLUMN IF NOT EXISTS: the migration runner skips this one when the column
-- is already there.
ALTER TABLE field_changes ADD COLUMN status_category String DEFAULT ''
