-- The address a setup link was mailed to: the one Jira gave for the installing admin when the
-- email was sent. The setup page offers to sign in (or sign up) as it. NULL for links nobody was
-- mailed: those handed to an admin on an admin page, whose viewer may be another Jira admin, and
-- those of Data Center webhook connections, which have no Jira account to ask about.
ALTER TABLE setup_links ADD COLUMN mailed_to text;
