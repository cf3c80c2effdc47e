-- Each member's own Atlassian account (issue 20), linked per organization: the views that
-- respect Jira's permissions ask Jira what this account may see in the organization's
-- workspaces. Only the account id is kept: no token, no email. The link belongs to the
-- membership, so leaving, being removed or deleting the organization ends it (cascade); one
-- Atlassian account is one member of an organization at most.
CREATE TABLE atlassian_accounts (
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    -- Atlassian's account id (`712020:…` or a legacy 24-hex id), as its `/me` gave it.
    account_id      text NOT NULL CHECK (length(account_id) BETWEEN 1 AND 128),
    -- `oauth`: the member consented at Atlassian; `setup`: the installing admin, linked when
    -- they finished the setup link mailed to them, by the account id Jira's install gave.
    linked_via      text NOT NULL CHECK (linked_via IN ('oauth', 'setup')),
    linked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id),
    UNIQUE (organization_id, account_id),
    FOREIGN KEY (organization_id, user_id)
        REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
