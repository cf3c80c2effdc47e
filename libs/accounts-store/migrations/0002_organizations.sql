-- Accounts, organizations and their members, the one-time links that bring people in, the
-- sessions they browse with, the outbox that mails them, and the audit log of what they did.
-- Every token (setup link, invite, session) is 256 random bits, and only its SHA-256 is stored.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- Stored lower-cased and trimmed: one account per address, however it is typed.
    email         text NOT NULL UNIQUE CHECK (email = lower(btrim(email))),
    -- argon2id PHC string; NULL for an account that only signs in with an identity provider.
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

-- An installation belongs to at most one organization. Uninstalling keeps the link (and so the
-- history); deleting the organization clears it.
ALTER TABLE installations
    ADD COLUMN organization_id uuid REFERENCES organizations (id) ON DELETE SET NULL,
    ADD COLUMN linked_at timestamptz;
CREATE INDEX installations_by_organization ON installations (organization_id);

CREATE TABLE setup_links (
    token_sha256    bytea PRIMARY KEY,
    installation_id uuid NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    -- Set when a newer link for the same installation was sent.
    revoked_at      timestamptz
);
CREATE INDEX setup_links_by_installation ON setup_links (installation_id);

CREATE TABLE invites (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email = lower(btrim(email))),
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
    invited_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    -- Minted when the invite email is sent, so the token never rests in the outbox.
    token_sha256    bytea UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX invites_by_organization ON invites (organization_id);

CREATE TABLE sessions (
    token_sha256 bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Failed password sign-ins, for the per-address rate limit.
CREATE TABLE sign_in_failures (
    email text NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_by_email ON sign_in_failures (email, at);

-- Emails to send. A row names what to send, not the message: tokens are minted at send time,
-- so no usable link ever rests in the database. Retried with backoff until sent or cancelled.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('setup', 'invite')),
    installation_id uuid REFERENCES installations (id) ON DELETE CASCADE,
    invite_id       uuid REFERENCES invites (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    cancelled_at    timestamptz,
    CHECK ((kind = 'setup') = (installation_id IS NOT NULL)),
    CHECK ((kind = 'invite') = (invite_id IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    -- NULL for what belongs to no organization (a sign-in); an organization's log is deleted
    -- with it.
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    actor_user_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    -- The actor's address at the time, so the log still reads after the account is gone.
    actor_email     text,
    action          text NOT NULL,
    detail          text NOT NULL DEFAULT '',
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_organization ON audit_log (organization_id, at DESC);
