-- The issue's assignee, labels and components, as each delivery states them (the issue after the
-- change), so every view can filter and break down by them (issue 19). `field_changes` and
-- `resolutions` gain them (and `field_changes` the priority) because the views' scope filter
-- reads the same columns from every table it filters. Deliveries stored before this migration
-- keep empty values: their payloads still hold them, but rewriting a tenant's history in place
-- is a mutation per row on 18.16, and no filter guesses.
-- No `DEFAULT`: the type's own ('' and []) is what an old row reads, and 18.16 names a default
-- column by its expression's text, so two columns defaulting to the same text clash when an old
-- part is read. One `ADD COLUMN` per statement: the runner skips each whose column already exists (18.16 has
-- no `ADD COLUMN IF NOT EXISTS`), so a migration cut short re-runs cleanly.
ALTER TABLE events ADD COLUMN assignee_account_id String AFTER priority;
ALTER TABLE events ADD COLUMN assignee_name String AFTER assignee_account_id;
ALTER TABLE events ADD COLUMN labels Array(String) AFTER assignee_name;
ALTER TABLE events ADD COLUMN components Array(String) AFTER labels;

ALTER TABLE field_changes ADD COLUMN priority String;
ALTER TABLE field_changes ADD COLUMN assignee_account_id String;
ALTER TABLE field_changes ADD COLUMN labels Array(String);
ALTER TABLE field_changes ADD COLUMN components Array(String);

ALTER TABLE resolutions ADD COLUMN priority String;
ALTER TABLE resolutions ADD COLUMN assignee_account_id String;
ALTER TABLE resolutions ADD COLUMN labels Array(String);
ALTER TABLE resolutions ADD COLUMN components Array(String);

-- Only a state row (kind 0, from `events`) carries them, as only it carries the priority.
ALTER TABLE issue_timeline ADD COLUMN assignee_account_id String;
ALTER TABLE issue_timeline ADD COLUMN assignee_name String;
ALTER TABLE issue_timeline ADD COLUMN labels Array(String);
ALTER TABLE issue_timeline ADD COLUMN components Array(String);

-- Segments carry them as the delivery that started the segment states them, completions as the
-- delivery that completed the issue: as the priority already is.
ALTER TABLE flow_segments ADD COLUMN assignee_account_id String;
ALTER TABLE flow_segments ADD COLUMN assignee_name String;
ALTER TABLE flow_segments ADD COLUMN labels Array(String);
ALTER TABLE flow_segments ADD COLUMN components Array(String);

ALTER TABLE flow_completions ADD COLUMN assignee_account_id String;
ALTER TABLE flow_completions ADD COLUMN assignee_name String;
ALTER TABLE flow_completions ADD COLUMN labels Array(String);
ALTER TABLE flow_completions ADD COLUMN components Array(String);

-- 18.16 pushes a view's rows into its table only when the view gives every column, so each view
-- into a table that gained columns is replaced. New views before the old ones go, so no insert
-- meets neither; one that meets both writes a copy, which both tables' readers already fold
-- (same key).
CREATE MATERIALIZED VIEW IF NOT EXISTS issue_timeline_from_events_v2 TO issue_timeline AS
SELECT installation_id, issue_id, occurred_at_ms, delivery_id, toUInt8(0) AS kind,
       toUInt16(0) AS item_index, event_type, project_key, issue_key, issue_type, priority, status,
       status_category, CAST('' AS String) AS from_status,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at,
       assignee_account_id, assignee_name, labels, components
FROM events
WHERE issue_id != '' AND status != '';

DROP TABLE IF EXISTS issue_timeline_from_events;

CREATE MATERIALIZED VIEW IF NOT EXISTS issue_timeline_from_field_changes_v2 TO issue_timeline AS
SELECT installation_id, issue_id, occurred_at_ms, delivery_id, toUInt8(1) AS kind,
       item_index, 'status_changed' AS event_type, project_key, issue_key, issue_type,
       CAST('' AS String) AS priority, to_string AS status, status_category, from_string AS from_status,
       toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at,
       CAST('' AS String) AS assignee_account_id, CAST('' AS String) AS assignee_name,
       CAST([] AS Array(String)) AS labels, CAST([] AS Array(String)) AS components
FROM field_changes
WHERE field = 'status' AND issue_id != '';

DROP TABLE IF EXISTS issue_timeline_from_field_changes;

CREATE MATERIALIZED VIEW IF NOT EXISTS resolutions_from_field_changes_v2 TO resolutions AS
SELECT installation_id, toDateTime(intDiv(occurred_at_ms, 1000)) AS occurred_at, delivery_id,
       item_index, occurred_at_ms, issue_id, project_key, issue_type,
       priority, assignee_account_id, labels, components
FROM field_changes
WHERE field = 'resolution' AND from_value = '' AND to_value != '';

DROP TABLE IF EXISTS resolutions_from_field_changes;
