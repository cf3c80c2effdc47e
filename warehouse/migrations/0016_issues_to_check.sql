-- What to ask Jira before showing a member only what their Jira account may browse, kept small
-- so it is read at every request rather than scanned from the events.
--
-- `projects_seen`: every (project id, key) the events name; keys change, ids do not, and Jira
-- is asked by id.
--
-- `issues_to_check`: the issues whose visibility Jira decides one by one, for members who see only what their Jira
-- account may browse: an issue ever under a security level (events.security_level), or moved
-- between projects (a changelog item on `project` or `Key`: Jira judges an issue where it is
-- now, while each stored row keeps the project of its own delivery). Filled as the rows arrive,
-- by materialized views, so a view hides an issue marked a moment ago until Jira has said who
-- may see it: views show a marked issue only to those Jira granted it. Small (issues, not
-- events), so a view reads it whole and a member's kept answer is checked against it at every
-- request. The newest mark of an issue stays; `marked_at_ms` is when it was written.
--
-- `jira_grants`: what Jira answered about them, per account (below).
-- Statements are separated by `;` at a line's end.

CREATE TABLE IF NOT EXISTS projects_seen (
    installation_id String,
    project_id String,
    project_key String,
    seen_at_ms Int64
) ENGINE = ReplacingMergeTree(seen_at_ms)
ORDER BY (installation_id, project_id, project_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS projects_seen_in_events TO projects_seen AS
SELECT installation_id, project_id, project_key, toInt64(toUnixTimestamp(now())) * 1000 AS seen_at_ms
FROM events
WHERE project_id != '' AND project_key != '';

INSERT INTO projects_seen
SELECT DISTINCT installation_id, project_id, project_key, toInt64(toUnixTimestamp(now())) * 1000
FROM events
WHERE project_id != '' AND project_key != '';

CREATE TABLE IF NOT EXISTS issues_to_check (
    installation_id String,
    issue_id String,
    marked_at_ms Int64
) ENGINE = ReplacingMergeTree(marked_at_ms)
ORDER BY (installation_id, issue_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS issues_to_check_secured TO issues_to_check AS
SELECT installation_id, issue_id, toInt64(toUnixTimestamp(now())) * 1000 AS marked_at_ms
FROM events
WHERE security_level != '' AND issue_id != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS issues_to_check_moved TO issues_to_check AS
SELECT installation_id, issue_id, toInt64(toUnixTimestamp(now())) * 1000 AS marked_at_ms
FROM field_changes
WHERE field IN ('project', 'Key') AND issue_id != '';

INSERT INTO issues_to_check
SELECT installation_id, issue_id, toInt64(toUnixTimestamp(now())) * 1000 AS marked_at_ms
FROM field_changes
WHERE field IN ('project', 'Key') AND issue_id != '';

INSERT INTO issues_to_check
SELECT installation_id, issue_id, toInt64(toUnixTimestamp(now())) * 1000 AS marked_at_ms
FROM events
WHERE security_level != '' AND issue_id != '';

-- Jira's answers about the issues to check, per Jira account: the newest row of an (account,
-- issue) says whether the account may see it. Written by whoever asks Jira (the dashboards, the
-- digest), only where the answer changed, so it holds about one row per account and issue; a
-- view reads the rows of its member's account rather than carrying them in its SQL.
CREATE TABLE IF NOT EXISTS jira_grants (
    installation_id String,
    account_id String,
    issue_id String,
    granted UInt8,
    answered_at_ms Int64
) ENGINE = ReplacingMergeTree(answered_at_ms)
ORDER BY (installation_id, account_id, issue_id)
