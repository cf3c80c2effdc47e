-- The weekly digest email (issue 19): a member opts in per organization, in their time zone,
-- and gets last week's headline numbers each Monday morning there. The subscription belongs to
-- the membership: leaving, being removed or deleting the organization ends it (cascade).
CREATE TABLE digest_subscriptions (
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    -- An IANA zone name, checked by onboarding (chrono-tz) before it is stored.
    time_zone       text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    -- The Monday (in the member's zone) of the last week a digest was queued for; the digest
    -- job queues the email and moves this in one transaction, so no week is mailed twice.
    last_week_sent  date,
    subscribed_at   timestamptz NOT NULL DEFAULT now(),
    -- Kept rather than deleted, so subscribing again in the same week does not mail it twice.
    unsubscribed_at timestamptz,
    PRIMARY KEY (organization_id, user_id),
    FOREIGN KEY (organization_id, user_id)
        REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX digest_subscriptions_active ON digest_subscriptions (last_week_sent)
    WHERE unsubscribed_at IS NULL;

-- One digest per subscription and week: the numbers as the warehouse answered them when it was
-- queued. Its unsubscribe token is minted when the email is sent (a retried send replaces it),
-- so none rests in the outbox, and only its SHA-256 is kept. Every digest keeps its own, so the
-- link in an older email still unsubscribes.
CREATE TABLE digests (
    id                       uuid PRIMARY KEY,
    organization_id          uuid NOT NULL,
    user_id                  uuid NOT NULL,
    week_start               date NOT NULL,
    time_zone                text NOT NULL,
    created                  bigint NOT NULL,
    resolved                 bigint NOT NULL,
    cycle_time_p85_hours     double precision,
    at_risk                  text[] NOT NULL,
    unsubscribe_token_sha256 bytea UNIQUE,
    created_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, user_id, week_start),
    FOREIGN KEY (organization_id, user_id)
        REFERENCES digest_subscriptions (organization_id, user_id) ON DELETE CASCADE
);

ALTER TABLE outbox
    ADD COLUMN digest_id uuid REFERENCES digests (id) ON DELETE CASCADE,
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check
        CHECK (kind IN ('setup', 'invite', 'password_reset', 'email_verification', 'digest')),
    ADD CHECK ((kind = 'digest') = (digest_id IS NOT NULL));
