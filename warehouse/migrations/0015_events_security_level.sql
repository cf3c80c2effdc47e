-- The issue security level an event's issue was under, as the delivery states it (Jira's level
-- id; empty when the issue has none or the event is not about an issue). Members who see only
-- what their Jira account may browse are shown no event of an issue Jira hides from them: the
-- views ask Jira about exactly the issues that ever carried a level.
-- 18.16 has no ADD COLUMN IF NOT EXISTS: the migration runner skips this one when the column
-- is already there.
ALTER TABLE events ADD COLUMN security_level String DEFAULT ''
