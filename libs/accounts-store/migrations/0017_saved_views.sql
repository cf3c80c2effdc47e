-- Saved views (issue 19): a member names a dashboards page with its range and filters (its
-- query string) to open again, for themselves or, shared, for every member of the organization.
-- Written by the dashboards, the one table they write.

CREATE TABLE saved_views (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Its author. A personal view is theirs alone; an account's views go with it.
    owner_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    page            text NOT NULL CHECK (page IN ('weekly', 'trends', 'flow', 'events')),
    -- The page's query string, without `?`, as the dashboards wrote it back (not as sent).
    query           text NOT NULL CHECK (length(query) <= 2000),
    shared          boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saved_views_by_organization ON saved_views (organization_id, owner_id);
-- One name per list a member sees: the organization's shared views, and each member's own.
CREATE UNIQUE INDEX saved_views_shared_name ON saved_views (organization_id, lower(name))
    WHERE shared;
CREATE UNIQUE INDEX saved_views_personal_name ON saved_views (organization_id, owner_id, lower(name))
    WHERE NOT shared;
