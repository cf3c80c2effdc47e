-- Deleting an organization releases the workspaces it held: until a new connection (a finished
-- setup link) claims one again, it stays installed in Jira but its events are refused, so a
-- deleted organization's workspace stops collecting at once instead of filling the warehouse
-- for nobody. NULL for a workspace that is connected or was never connected. Numbered 0014:
-- 0013 is taken by another branch, and the migrator applies each version it has not recorded.
ALTER TABLE installations ADD COLUMN released_at timestamptz;
