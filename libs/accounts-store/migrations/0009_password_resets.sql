-- "Forgot your password?": a one-time link mailed to the account's own address. As with invites,
-- the token is minted when the email is sent (a retried send replaces it), so none rests in the
-- outbox, and only its SHA-256 is kept. A newer request revokes the open ones.
CREATE TABLE password_resets (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_sha256 bytea UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX password_resets_by_user ON password_resets (user_id, created_at);

ALTER TABLE outbox
    ADD COLUMN password_reset_id uuid REFERENCES password_resets (id) ON DELETE CASCADE,
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('setup', 'invite', 'password_reset')),
    ADD CHECK ((kind = 'password_reset') = (password_reset_id IS NOT NULL));
