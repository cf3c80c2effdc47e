-- Whether an organization's members see only what their own Jira account can see (issue 20):
-- its owners turn it on; the dashboards then limit every view, export and digest of a member
-- to the projects and issues their linked Atlassian account may browse, and show a member with
-- no linked account only a request to link one. Off for existing organizations and new ones, so
-- nobody's views change until an owner chooses; the organization page recommends it.
ALTER TABLE organizations
    ADD COLUMN jira_permissions_enforced boolean NOT NULL DEFAULT false;
