-- Whether the provider vouched for the identity's email at its last sign-in (Google's
-- `email_verified`; never for Microsoft's `email` claim). An invitation is accepted through a
-- provider only for an address it vouched for.
ALTER TABLE identities ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
