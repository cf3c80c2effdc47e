-- Email verification (security issue 17, account pre-hijack): a password sign-up proves nothing
-- about its address, so an account is "confirmed" only once its owner showed they read its mail
-- (a one-time link from us, or a provider that vouches for the address). Only a confirmed
-- account finishes a setup link, accepts an invitation or is linked to a provider by address.
ALTER TABLE users ADD COLUMN email_confirmed_at timestamptz;

-- Accounts from before that already proved their address: a provider vouched for it, an
-- invitation mailed to it was accepted, or a reset link mailed to it was used. Everyone else
-- confirms once, from the account page, before their next setup link or invitation.
UPDATE users u SET email_confirmed_at = now()
WHERE EXISTS (SELECT 1 FROM identities i
              WHERE i.user_id = u.id AND i.email_verified AND lower(i.email) = u.email)
   OR EXISTS (SELECT 1 FROM invites v JOIN memberships m
                   ON m.organization_id = v.organization_id AND m.user_id = u.id
              WHERE v.email = u.email AND v.accepted_at IS NOT NULL)
   OR EXISTS (SELECT 1 FROM password_resets r WHERE r.user_id = u.id AND r.used_at IS NOT NULL);

-- One-time "confirm your address" links. For an account (`user_id`), or for a sign-in through
-- a provider that does not vouch for the address it gives (Microsoft's `email`): then no account
-- exists yet, and the identity waits here until the address is confirmed. As for password
-- resets, the token is minted when the email is sent and only its SHA-256 is kept.
CREATE TABLE email_verifications (
    id           uuid PRIMARY KEY,
    email        text NOT NULL CHECK (email = lower(btrim(email))),
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    provider     text,
    issuer       text,
    subject      text,
    -- Where the confirmed visitor goes on: the page they were headed to when they signed up.
    next         text NOT NULL DEFAULT '/',
    token_sha256 bytea UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz,
    CHECK ((user_id IS NULL) = (issuer IS NOT NULL AND subject IS NOT NULL AND provider IS NOT NULL))
);
CREATE INDEX email_verifications_by_user ON email_verifications (user_id);
CREATE INDEX email_verifications_by_email ON email_verifications (email, created_at);

ALTER TABLE outbox
    ADD COLUMN email_verification_id uuid REFERENCES email_verifications (id) ON DELETE CASCADE,
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check
        CHECK (kind IN ('setup', 'invite', 'password_reset', 'email_verification')),
    ADD CHECK ((kind = 'email_verification') = (email_verification_id IS NOT NULL));
