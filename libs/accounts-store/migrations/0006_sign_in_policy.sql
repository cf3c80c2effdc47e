-- An organization's sign-in policy: its owners may require single sign-on (Google or Microsoft)
-- and accept only members whose addresses are at given domains. A session remembers how it
-- was started, so a member who signed in with a password is asked to sign in again.

ALTER TABLE organizations
    ADD COLUMN require_sso     boolean NOT NULL DEFAULT false,
    -- Lower-cased domains (`example.com`); empty accepts every address.
    ADD COLUMN allowed_domains text[] NOT NULL DEFAULT '{}';

-- `password`, or the provider's name (`google`, `microsoft`).
ALTER TABLE sessions ADD COLUMN method text NOT NULL DEFAULT 'password';
